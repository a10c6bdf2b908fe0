"""Resolve the scikit-learn user-guide labels cited by inherited scikit-learn docstrings.

``MaskedAutoencoder`` inherits ``set_output`` and ``get_metadata_routing`` from
scikit-learn, whose docstrings cite labels of scikit-learn's own documentation. The
build has no network for intersphinx, so the few labels used are mapped here to their
pages; any other unresolved label still fails the build.
"""

from docutils import nodes

SKLEARN = "https://scikit-learn.org/stable/"
LABELS = {
    "metadata_routing": SKLEARN + "metadata_routing.html",
    "df_output_transform": SKLEARN + "auto_examples/miscellaneous/plot_set_output.html",
    "sphx_glr_auto_examples_miscellaneous_plot_set_output.py":
        SKLEARN + "auto_examples/miscellaneous/plot_set_output.html",
}


def resolve(app, env, node, contnode):
    if node.get("reftype") != "ref" or node.get("reftarget") not in LABELS:
        return None
    link = nodes.reference("", "", internal=False, refuri=LABELS[node["reftarget"]])
    link += contnode
    return link


def setup(app):
    app.connect("missing-reference", resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
