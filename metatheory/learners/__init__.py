"""Meta-learners as pure functions over pytrees."""

from metatheory.learners.anil import (
    anil_meta_gradient,
    anil_meta_loss,
    batched_anil_meta_gradient,
    batched_anil_meta_loss,
)
from metatheory.learners.hf_maml import central_difference_hvp, hf_maml_meta_gradient
from metatheory.learners.imaml import batched_imaml_meta_gradient, imaml_meta_gradient
from metatheory.learners.maml import (
    batched_maml_meta_gradient,
    batched_maml_meta_loss,
    inner_adapt,
    maml_meta_gradient,
    maml_meta_loss,
)
from metatheory.learners.meta_sgd import make_meta_sgd_step, meta_sgd_init, meta_sgd_meta_loss
from metatheory.learners.reptile import batched_reptile_direction, reptile_direction
from metatheory.learners.train import make_meta_step, make_scan_train

__all__ = [
    "inner_adapt",
    "maml_meta_loss",
    "maml_meta_gradient",
    "batched_maml_meta_loss",
    "batched_maml_meta_gradient",
    "reptile_direction",
    "batched_reptile_direction",
    "make_meta_step",
    "imaml_meta_gradient",
    "batched_imaml_meta_gradient",
    "meta_sgd_init",
    "meta_sgd_meta_loss",
    "make_meta_sgd_step",
    "make_scan_train",
    "central_difference_hvp",
    "hf_maml_meta_gradient",
    "anil_meta_loss",
    "anil_meta_gradient",
    "batched_anil_meta_loss",
    "batched_anil_meta_gradient",
]
