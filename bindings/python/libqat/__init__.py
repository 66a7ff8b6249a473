"""libqat: quantization-aware training and low-bit inference for BERT-class
encoders, through ctypes. The shared library is found through LIBQAT_LIBRARY,
next to this package, or through the system loader."""
from ._lib import QatError
from .core import Context, QuantConfig, backends, version
from .model import Model
from .packed import PackedModel, estimate, export, isa_paths
from .tokenizer import Tokenizer
from .study import run_dapt, run_pipeline  # the experimental tier
from .train import Communicator, Trainer

__all__ = ["QatError", "Context", "QuantConfig", "backends", "version", "Model", "PackedModel", "estimate", "export", "isa_paths", "Tokenizer", "Communicator", "Trainer", "run_dapt", "run_pipeline"]
