"""condense_lib: the library behind condense-book.

Zhou, Zhou, Li, Xu, "Understanding the Initial Condensation of Convolutional Neural
Networks". One module per concept of the paper, in three layers that import one way:

- maths (numpy, scipy, torch only): ``activations``, ``condensation``, ``data_matrix``
  (Z, A, the spectrum), ``linear_dynamics`` (Prop. 1), ``effective_time`` (T_eff, Theorem 1's
  measures, Prop. 2's bounds), ``losses``;
- data, model, trainer and runner: ``data``, ``models``, ``two_layer``, ``train``, ``cache``,
  ``experiments`` (``Config``, ``FIGURES``, ``run``), ``trajectory``;
- on top: ``sweep`` (many runs, here or on a Dask cluster), ``studies`` (training runs
  measured against the theory) and ``plotting``.

The public names are re-exported here: ``import condense_lib as cl; cl.build_Z(...)``.
"""
from .activations import ACTIVATIONS, Activation, derivatives_at_zero, get_activation, multiplicity
from .cache import cache_dir, config_hash, load_or_compute
from .claims import CLAIMS, ClaimError, check_figure, figure_numbers
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
from .data import (
    DEFAULT_NORMALIZATION,
    NORMALIZATION,
    NORMALIZATIONS,
    POOL,
    data_dirs,
    held_out,
    image_pool,
    load_images,
    normalize,
    sample,
    split_index,
)
from .data_matrix import (
    Spectrum,
    build_A,
    build_B,
    build_Q,
    build_Z,
    constant_share,
    label_weighted_mean,
    quadratic_field,
    sign_fixed_point,
    spectrum,
    theta_bar,
    top_eigenpairs,
    v1_parts,
)
from .effective_time import (
    E_max,
    T_eff,
    T_eff_lower_bound,
    alignment,
    angle_to,
    eq59_threshold,
    first_time,
    gamma_exponent,
    neuron_energy,
    phi,
    projection_shares,
    prop2_bound,
    prop2_constants,
    relative_change,
    sup_until,
    t_0,
)
from .experiments import (
    FIGURES,
    SCALES,
    Config,
    Figure,
    default_scale,
    figure_names,
    get_config,
    run,
    seconds_per_epoch,
    theory_config,
)
from .linear_dynamics import (
    closed_form,
    frozen_part,
    gd_step,
    linear_field,
    reference_solution,
    relative_distance,
    velocity,
)
from .losses import LOSSES, accuracy, loss_fn
from .models import CNN, sigma_1
from .notebook import live_frontend, notebook_setup
from .plotting import (
    accuracy_and_survival,
    accuracy_curve,
    amplitude_cosine,
    angle_decay,
    before_after,
    before_after_kernels,
    bound_curves,
    condensation_panel,
    eigenvalue_bars,
    eigenvalue_panels,
    energies,
    failure_curves,
    growth_vs_rate,
    heatmap,
    heatmap_animation,
    heatmap_row,
    heatmaps,
    image,
    kernel_images,
    loss_curve,
    loss_curves,
    mean_images,
    moving_frozen,
    optimizer_curves,
    optimizer_directions,
    order_plot,
    panels,
    phase_heatmaps,
    real_vs_linear,
    regime_comparison,
    remainders,
    scrubber,
    seed_errorbars,
    sensitivity_curves,
    sensitivity_table,
    table,
    tail_histogram,
    timeline,
    v1_images,
    width_runs,
    width_scan,
)
from .proof import (
    InitialDraws,
    displacement_sq,
    duhamel_integral,
    eq56_rate_as_printed,
    eq57_width,
    eq60_lower,
    eq64_factor,
    eq64_width,
    gronwall_bound,
    initial_draws,
    initial_projections,
    joint_norm,
    lemma1_eta,
    max_energy_tail,
    max_entry_tail,
    part3_events,
    part3_failure,
    part3_lower,
    phi0_bound,
    phi0_chi2,
    prop3_failure,
    prop3_width,
    psi1_norm_chi2,
    remainder_rate,
    residual_bound,
    t0_bar,
    t0_bar_width,
    t0_positive_width,
    v1_share,
)
from .studies import (
    AfterInitialStage,
    DirectionShares,
    LayerOrder,
    LinearizationCheck,
    LinearRegime,
    MultiplicityStudy,
    OptimizerComparison,
    PhaseDiagram,
    RegimeComparison,
    SeedSpread,
    Sensitivity,
    Theorem1Scan,
    V1Trials,
    adam_step_ratios,
    after_initial_stage,
    all_cached,
    compare_optimizers,
    compare_regimes,
    direction_shares,
    held_out_accuracy,
    layer_gradients,
    layer_order,
    linear_regime,
    linearization_check,
    multiplicity_study,
    phase_diagram,
    quadratic_check,
    quadratic_fields,
    seed_spread,
    sensitivity,
    theorem1_scan,
    theta_per_kernel,
    v1_cosine_trials,
    vector_fields,
)
from .sweep import (
    AFTER_INITIAL_STAGE,
    PHASE_DIAGRAM,
    SENSITIVITY,
    SWEEPS,
    SensitivityRow,
    after_initial_stage_configs,
    phase_diagram_configs,
    seed_sweep,
    sensitivity_configs,
    sensitivity_rows,
    sweep,
    sweep_groups,
)
from .train import TrainResult, train
from .trajectory import CosineFrames, Measures, conv_layers, cosine_frames, measure
from .two_layer import patches

__version__ = "0.1.0"
