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
from .data import NORMALIZATION, NORMALIZATIONS, POOL, data_dirs, image_pool, load_images, normalize, sample
from .dynamics import (
    E_max,
    T_eff,
    T_eff_lower_bound,
    Theorem1Scan,
    alignment,
    angle_to,
    closed_form,
    eq59_threshold,
    first_time,
    frozen_part,
    gamma_exponent,
    gd_step,
    linear_field,
    neuron_energy,
    phi,
    prop2_bound,
    prop2_constants,
    reference_solution,
    relative_change,
    relative_distance,
    sup_until,
    t_0,
    theorem1_scan,
    velocity,
)
from .experiments import (
    FIGURES,
    SCALES,
    Config,
    Figure,
    default_scale,
    figure_names,
    get_config,
    get_figure,
    run,
    shown_epochs,
    theory_config,
)
from .models import CNN, sigma_1
from .notebook import notebook_setup
from .plotting import (
    accuracy_curve,
    amplitude_cosine,
    heatmap,
    heatmap_animation,
    heatmaps,
    live_frontend,
    loss_curve,
    scrubber,
)
from .plotting import eigenvalue_bars, image, kernel_images, markdown_table, order_plot
from .theory import (
    LinearizationCheck,
    Spectrum,
    V1Trials,
    build_A,
    build_Z,
    constant_share,
    derivatives_at_zero,
    label_weighted_mean,
    linearization_check,
    spectrum,
    theta_bar,
    theta_per_kernel,
    v1_cosine_trials,
    v1_parts,
    vector_fields,
)
from .train import TrainResult, accuracy, loss_fn, train
from .trajectory import CosineFrames, Measures, conv_layers, cosine_frames, measure
from .two_layer import patches

__version__ = "0.1.0"
