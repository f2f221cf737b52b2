"""condense_lib: the library behind condense-book.

Zhou, Zhou, Li, Xu, "Understanding the Initial Condensation of Convolutional Neural
Networks" (arXiv:2305.09947; CSIAM Trans. Appl. Math. 6 (2025) 272-319). Subpackages that are
the layers, imports only going down:

- ``theory``: the paper's maths (numpy, scipy, torch only);
- ``training``: data, model, trainer, cache, ``Config``, the cached ``run``, sweeps;
- ``paper``: the paper's figures (``FIGURES``), their claims and reports;
- ``studies``: one module per question the book asks beyond a figure;
- ``plotting`` and ``notebook``: what the chapters draw, and their set-up.

Every public name is re-exported here (``__all__``): ``import condense_lib as cl; cl.build_Z(...)``.
"""
from . import notebook, paper, plotting, studies, theory, training

# The public names: each module's own explicit __all__, in this order.
__all__ = [*theory.__all__, *training.__all__, *paper.__all__, *studies.__all__, *plotting.__all__, "notebook_setup", "live_frontend", "glue", "__version__"]

from .notebook import glue, live_frontend, notebook_setup
from .paper import *
from .plotting import *
from .studies import *
from .theory import *
from .training import *

__version__ = "0.1.0"
