"""Hooks for sphinx-gallery, importable by name from ``docs/conf.py``."""

import warnings

_active: list = []  # the catch_warnings context of the example being run


def warnings_as_errors(gallery_conf, fname, when):
    """Run each example with every warning raised as an error, then restore the filters.

    A user who runs an example should see no warning, so the build fails on one.
    ``DeprecationWarning`` from skorch's own internals is ignored, as in the test suite.
    """
    if when == "after":
        while _active:
            _active.pop().__exit__(None, None, None)
        return
    if fname is None:  # entering a folder of examples
        return
    context = warnings.catch_warnings()
    context.__enter__()
    _active.append(context)
    warnings.simplefilter("error")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="skorch")
    # sphinx-gallery collects figures from the Agg backend; plt.show() there is expected
    warnings.filterwarnings("ignore", message=".*non-interactive.*", category=UserWarning)
