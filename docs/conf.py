"""Sphinx configuration: API reference from numpydoc docstrings, the user guide, and a
gallery of the scripts in ``examples/``, each executed with warnings raised as errors.

Build with ``make docs`` (HTML in ``docs/_build/html``).
"""

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "sphinxext"))

# sphinx-gallery imports the names the examples use to link them; IterativeImputer needs
# its experimental flag first (scikit-learn's own conf.py does the same)
from sklearn.experimental import enable_iterative_imputer  # noqa: E402, F401

import sklearn_mae  # noqa: E402

project = "sklearn-mae"
author = "The sklearn-mae developers"
copyright = "2026, The sklearn-mae developers"  # noqa: A001
version = release = sklearn_mae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinxarg.ext",
    "myst_parser",
    "external_labels",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "**/sg_execution_times.rst"]
default_role = "literal"
nitpicky = False

# -- API reference -----------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"  # types are written in the numpydoc sections
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- Example gallery ---------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "doc_module": ("sklearn_mae",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"sklearn_mae": None},
    "reset_modules": ("matplotlib", "gallery_hooks.warnings_as_errors"),
    "reset_modules_order": "both",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "min_reported_time": 0,
    "remove_config_comments": True,
    "show_memory": False,
    "download_all_examples": False,
    "plot_gallery": os.environ.get("SKLEARN_MAE_DOCS_PLOT", "True"),
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-mae {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_favicon = "_static/favicon.png"  # a zero from the digits, some pixels hidden in red
html_context = {"default_mode": "light"}
html_theme_options = {
    "logo": {"text": "sklearn-mae", "image_light": "_static/favicon.png",
             "image_dark": "_static/favicon.png"},
    "navbar_end": ["navbar-icon-links"],
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": [], "benchmarks": [], "changelog": []}
html_show_sourcelink = False
html_copy_source = False
