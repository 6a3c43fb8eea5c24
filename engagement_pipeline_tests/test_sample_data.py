import datetime as dt
import hashlib
from pathlib import Path

from engagement_pipeline import SegmentTier, process_engagement_analysis
from engagement_pipeline.sample_data import generate

ROOT = Path(__file__).resolve().parents[1]


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_generator_is_deterministic_and_chunking_free(tmp_path):
    a = generate(tmp_path / "a", 300, dt.date(2025, 1, 1), 120, seed=3)
    b = generate(tmp_path / "b", 300, dt.date(2025, 1, 1), 120, seed=3)
    assert a == b and digest(tmp_path / "a") == digest(tmp_path / "b")
    c = generate(tmp_path / "c", 300, dt.date(2025, 1, 1), 120, seed=4)
    assert digest(tmp_path / "c") != digest(tmp_path / "a") and c["customers"] == 300


def test_shipped_sample_is_the_generators_output(tmp_path):
    generate(tmp_path, 1000, dt.date(2025, 1, 1), 181, seed=7, planted=True)
    assert digest(tmp_path) == digest(ROOT / "data" / "sample")


def test_every_segment_appears_in_the_shipped_sample():
    analysis = process_engagement_analysis(ROOT / "config.yaml")
    counts = {s.segment: s.customer_count for s in analysis.segment_analyses}
    assert all(counts[tier] >= 20 for tier in SegmentTier), counts
