"""fastce: fast, numerically stable cross-entropy losses for NumPy.

Every loss is a fused C kernel: the activation (log-softmax or log-sigmoid),
the loss and, on request, the gradient come from one pass over the logits.
Semantics follow ``torch.nn.functional``; ``fastce.reference`` holds the slow,
obviously correct NumPy twin of every function.

>>> import fastce
>>> round(float(fastce.cross_entropy([[3.0, 1.0, -3.0]], [0])), 12)
0.12910890883
"""
__version__ = "0.1.0"

from ._config import select_isa, show_config
from ._metrics import accuracy, entropy, kl_divergence
from ._prob_ce import binary_cross_entropy, categorical_cross_entropy
from ._sigmoid_ce import sigmoid_cross_entropy
from ._softmax import log_softmax, logsumexp, softmax
from ._softmax_ce import nll_loss, softmax_cross_entropy

select_isa()

#: Torch-style names.
cross_entropy = softmax_cross_entropy
binary_cross_entropy_with_logits = sigmoid_cross_entropy

__all__ = [
    "accuracy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "categorical_cross_entropy",
    "cross_entropy",
    "entropy",
    "kl_divergence",
    "log_softmax",
    "logsumexp",
    "nll_loss",
    "select_isa",
    "show_config",
    "sigmoid_cross_entropy",
    "softmax",
    "softmax_cross_entropy",
]
