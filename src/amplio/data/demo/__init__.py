"""The bundled demo dataset: 600 prompts sliced from Google's AART set (CC-BY-4.0).

See ``ATTRIBUTION.md`` beside this file for the source, licence and how the slice was made.
"""

from __future__ import annotations

from pathlib import Path

DEMO_FILE = "aart_demo.csv"
DEMO_TEXT_COLUMN = "prompt"
DEMO_LABEL_COLUMN = "crime"


def demo_dataset_path() -> Path:
    """Path of the demo CSV (columns ``source_row, prompt, crime, region, medium_keyword``).

    Returns:
        The absolute path of ``aart_demo.csv`` inside the installed package.

    Example:
        >>> import amplio
        >>> from amplio.data.demo import demo_dataset_path
        >>> ws = amplio.open(demo_dataset_path(), text_col="prompt", label_col="crime")  # doctest: +SKIP
    """
    return Path(__file__).resolve().parent / DEMO_FILE
