"""Data, model, trainer and runner: the datasets and their samples, the paper's CNN, the
two-layer closed-form gradient, full-batch GD/Adam, the results cache, ``Config`` and the cached
``run``, the sweep engine, the device and progress policies, the measures along a run. Imports
``theory`` only.
"""
from . import (
    cache,
    config,
    data,
    device,
    models,
    progress,
    provenance,
    runner,
    shipped,
    sweep,
    trainer,
    trajectory,
    two_layer,
)

# The public names: each module's own explicit __all__, in this order.
__all__ = [*device.__all__, *progress.__all__, *data.__all__, *models.__all__, *two_layer.__all__, *trainer.__all__, *cache.__all__, *config.__all__, *shipped.__all__, *runner.__all__, *provenance.__all__, *sweep.__all__, *trajectory.__all__]

from .cache import *
from .config import *
from .data import *
from .device import *
from .models import *
from .progress import *
from .provenance import *
from .runner import *
from .shipped import *
from .sweep import *
from .trainer import *
from .trajectory import *
from .two_layer import *
