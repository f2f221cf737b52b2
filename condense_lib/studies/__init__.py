"""One module per question the book asks beyond a figure: the linearization, Theorem 1 on real
runs, the regimes and the phase diagram, seeds, the layer order, Adam against GD, the
sensitivity table, multiplicity 2, after the initial stage; the named sweeps (``SWEEPS``).
Imports ``paper``, ``training`` and ``theory``.
"""
from . import (
    after_initial_stage,
    layer_order,
    linearization,
    merge,
    multiplicity,
    optimizers,
    regimes,
    seeds,
    sensitivity,
    spectra,
    sweeps,
    theorem1,
    uncertainty,
)

# The public names: each module's own explicit __all__, in this order.
__all__ = [*uncertainty.__all__, *spectra.__all__, *linearization.__all__, *theorem1.__all__, *regimes.__all__, *seeds.__all__, *layer_order.__all__, *optimizers.__all__, *sensitivity.__all__, *multiplicity.__all__, *after_initial_stage.__all__, *merge.__all__, *sweeps.__all__]

from .after_initial_stage import *
from .layer_order import *
from .linearization import *
from .merge import *
from .multiplicity import *
from .optimizers import *
from .regimes import *
from .seeds import *
from .sensitivity import *
from .spectra import *
from .sweeps import *
from .theorem1 import *
from .uncertainty import *
