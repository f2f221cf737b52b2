"""The paper's theory, as numbers: activations and their multiplicity, the condensation
measures, Z, A and the spectrum, multiplicity 2, the linear dynamics and Prop. 1's closed form,
T_eff and Theorem 1's measures, the proof's quantities, the losses, the vector fields of the
Taylor expansion. Imports numpy, scipy and torch, nothing above it.
"""
from . import (
    activations,
    checks,
    condensation,
    data_matrix,
    effective_time,
    fields,
    linear_dynamics,
    losses,
    merge,
    proof,
    proof_part3,
    quadratic,
)

# The public names: each module's own explicit __all__, in this order.
__all__ = [*checks.__all__, *activations.__all__, *condensation.__all__, *losses.__all__, *data_matrix.__all__, *quadratic.__all__, *linear_dynamics.__all__, *proof.__all__, *proof_part3.__all__, *effective_time.__all__, *fields.__all__, *merge.__all__]

from .activations import *
from .checks import *
from .condensation import *
from .data_matrix import *
from .effective_time import *
from .fields import *
from .linear_dynamics import *
from .losses import *
from .merge import *
from .proof import *
from .proof_part3 import *
from .quadratic import *
