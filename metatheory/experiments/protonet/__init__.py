"""Experiments of the metric lens: prototypes as linear classifiers (M1 ``protonet_linear``), the
mean as the Bregman-optimal centre (M2 ``bregman_mean``), and 5-way 5-shot Gaussian clusters
(M3 ``protonet_clusters``).

M1 and M2 run in float64 (exact identities, and a numerical minimizer against the prototype).
Every experiment calls the learners of :mod:`metatheory.learners.protonet` (prototypes, the
distance logits, the linear head) and the divergences of :mod:`metatheory.symbolic.protonet`
through their module globals, so a mutant of either reaches it.
"""

from metatheory.experiments.protonet.bregman_mean import (
    BREGMAN_MEAN_PRESETS,
    BregmanMeanConfig,
    BregmanMeanResult,
    bregman_centres,
    divergence,
)
from metatheory.experiments.protonet.protonet_clusters import (
    ACCURACY_LEVEL,
    PROTONET_CLUSTERS_PRESETS,
    ProtonetClustersConfig,
    ProtonetClustersResult,
    clusters_experiment,
)
from metatheory.experiments.protonet.protonet_linear import (
    PROTONET_LINEAR_PRESETS,
    ProtonetLinearConfig,
    ProtonetLinearResult,
    linear_equivalence,
)

__all__ = [
    "ProtonetLinearConfig",
    "PROTONET_LINEAR_PRESETS",
    "ProtonetLinearResult",
    "linear_equivalence",
    "BregmanMeanConfig",
    "BREGMAN_MEAN_PRESETS",
    "BregmanMeanResult",
    "bregman_centres",
    "divergence",
    "ACCURACY_LEVEL",
    "ProtonetClustersConfig",
    "PROTONET_CLUSTERS_PRESETS",
    "ProtonetClustersResult",
    "clusters_experiment",
]
