"""condense_lib: the library behind condense-book.

Zhou, Zhou, Li, Xu, "Understanding the Initial Condensation of Convolutional
Neural Networks". One module per concept of the paper; the public names are
re-exported here.
"""
from .activations import ACTIVATIONS, Activation, get_activation, multiplicity
from .cache import cache_dir, config_hash, load_or_compute
from .condensation import (
    aligned_fraction,
    amplitudes,
    cluster_order,
    cosine_matrix,
    cosine_with_ones,
    effective_directions,
    kernel_vectors,
    leading_direction,
)
from .data import NORMALIZATION, POOL, data_dirs, load_images, sample
from .experiments import FIGURES, SCALES, Config, default_scale, get_config, run
from .models import CNN, sigma_1
from .plotting import accuracy_curve, amplitude_cosine, heatmap, loss_curve
from .theory import build_Z
from .train import TrainResult, accuracy, loss_fn, train

__version__ = "0.1.0"
