"""Reading source files into the canonical schemas, with every rejected row kept and explained."""
