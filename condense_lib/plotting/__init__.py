"""Every figure the chapters draw, by family: the common axes and curves, the condensation
heatmaps and players, the theory chapters', the proof's, the studies'. Draws, never computes;
imports ``theory`` at most.
"""
from . import base, heatmaps, proof, studies, theory

# The public names: each module's own explicit __all__, in this order.
__all__ = [*base.__all__, *heatmaps.__all__, *theory.__all__, *proof.__all__, *studies.__all__]

from .base import *
from .heatmaps import *
from .proof import *
from .studies import *
from .theory import *
