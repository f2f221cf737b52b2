"""The paper's experiments: its figures at two scales (``FIGURES``), the claims each figure's run
must show (``CLAIMS``, ``check_figure``) and one report per figure (``figure_report``). Imports
``training`` and ``theory``.
"""
from . import claims, figures, report

# The public names: each module's own explicit __all__, in this order.
__all__ = [*figures.__all__, *claims.__all__, *report.__all__]

from .claims import *
from .figures import *
from .report import *
