"""The package's public names, and what loading the Dagster definitions imports."""

import subprocess
import sys

import engagement_pipeline


def test_every_public_name_imports_from_the_package():
    for name in engagement_pipeline.__all__:
        assert getattr(engagement_pipeline, name).__name__ == name
    assert set(engagement_pipeline.__all__) <= set(dir(engagement_pipeline))


def test_the_definitions_load_without_the_api_models():
    # a fresh interpreter: the test process has imported everything already
    code = (
        "import sys; import engagement_pipeline.defs.build; "
        "print(sorted(m for m in ('engagement_pipeline.models', 'engagement_pipeline.api') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
