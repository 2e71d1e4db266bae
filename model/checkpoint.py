"""Checkpoints: our safetensors format, and a safe importer for Un-0's torch ``.pt`` files.

Our format is ONE ``.safetensors`` file whose tensors are named with Un-0's state-dict keys
(without ``_orig_mod.``) and whose metadata holds ``{"format": FORMAT, "config": <ModelConfig JSON>}``.
Loading never executes code: safetensors is a flat tensor format, and Un-0 files are read with
``torch.load(..., weights_only=True)`` (PyTorch's restricted unpickler), never the full unpickler.

``load_config_and_tensors`` needs only numpy + safetensors, so board-side code can use it.

CLI: ``python -m model.checkpoint import-un0 un0.pt out.safetensors`` converts an Un-0 file;
``python -m model.checkpoint info ckpt.safetensors`` prints the config and tensor shapes.
"""

from __future__ import annotations

import json
import os
import sys
import warnings

import numpy as np

from .config import CONFIGS, ModelConfig, state_dict_shapes
from fixedpoint.cli import SAFETENSORS_FORMATS, TORCH_FORMATS
from fixedpoint.files import atomic_output, check_input
from fixedpoint.quantize import require_finite

FORMAT = "oscillator-hil-checkpoint/1"
UN0_PREFIX_SEGMENT = "_orig_mod."


class CheckpointError(ValueError):
    """A checkpoint file is malformed, incompatible or unsafe."""


# ----------------------------------------------------------------------------------------------
# helpers shared by both formats
# ----------------------------------------------------------------------------------------------
def validate_tensors(cfg: ModelConfig, shapes: dict[str, tuple[int, ...]], path: str = "<tensors>") -> None:
    """Check names and shapes against what ``cfg`` needs; errors name the offending key."""
    want = state_dict_shapes(cfg)
    missing = [k for k in want if k not in shapes]
    if missing:
        raise CheckpointError(f"{path}: missing tensor(s) {missing} required by config {cfg.name!r}")
    unexpected = sorted(k for k in shapes if k not in want)
    if unexpected:
        raise CheckpointError(f"{path}: unexpected tensor(s) {unexpected} for config {cfg.name!r}")
    for k, s in want.items():
        if tuple(shapes[k]) != tuple(s):
            raise CheckpointError(
                f"{path}: tensor {k!r} has shape {tuple(shapes[k])}, config {cfg.name!r} needs {tuple(s)}"
            )


#: safetensors dtypes our loader converts to float32 without loss (F64 only when every value is a float32).
FLOAT_DTYPES = ("F16", "F32", "F64")


def checked_weights(tensors: dict, path: str = "<tensors>") -> dict[str, np.ndarray]:
    """Validated float32 copies of a state dict's arrays (numpy; torch tensors are converted first).

    float16/bfloat16/float32 convert losslessly; float64 converts when every value is exactly a float32;
    any other dtype (bool, integer, complex), a float64 that would lose precision, and NaN/Inf are refused
    with a CheckpointError naming the tensor.
    """
    out = {}
    for k, v in tensors.items():
        if type(v).__module__.startswith("torch"):
            import torch

            if v.dtype in (torch.float16, torch.bfloat16):
                v = v.float()
            v = v.detach().cpu().numpy()
        a = np.asarray(v)
        if a.dtype.kind != "f":
            raise CheckpointError(f"{path}: tensor {k!r} has dtype {a.dtype}; weights must be floating point "
                                  "(float16, bfloat16, float32, or float64 holding float32 values)")
        try:
            require_finite({k: a}, path)
        except ValueError as e:
            raise CheckpointError(str(e)) from None
        f = a.astype(np.float32)
        if a.dtype.itemsize > 4 and not np.array_equal(f.astype(a.dtype), a):
            lost = int(np.count_nonzero(f.astype(a.dtype) != a))
            raise CheckpointError(f"{path}: tensor {k!r} is {a.dtype} and {lost} of its values are not exactly "
                                  "representable in float32 (the model's precision); convert it deliberately "
                                  "(e.g. tensor.float()) and re-save")
        out[k] = np.ascontiguousarray(f)
    return out


def _parse_metadata(meta: dict | None, path: str) -> ModelConfig:
    if not meta or "format" not in meta:
        raise CheckpointError(f"{path}: no 'format' metadata; not an {FORMAT} checkpoint "
                              "(for Un-0 .pt files use import_un0 / `python -m model.checkpoint import-un0`)")
    if meta["format"] != FORMAT:
        raise CheckpointError(f"{path}: format {meta['format']!r} is not supported (expected {FORMAT!r})")
    if "config" not in meta:
        raise CheckpointError(f"{path}: metadata has no 'config' entry")
    try:
        cfg_dict = json.loads(meta["config"])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: metadata 'config' is not valid JSON ({e})") from None
    try:
        return ModelConfig.from_dict(cfg_dict)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: bad config: {e}") from None


def read_metadata(path: str) -> dict[str, str]:
    """The raw string metadata of one of our checkpoints (no tensors are read)."""
    from safetensors import safe_open

    check_input(path, "checkpoint", SAFETENSORS_FORMATS)
    try:
        with safe_open(path, framework="numpy") as f:
            return dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e})") from None


# ----------------------------------------------------------------------------------------------
# our format
# ----------------------------------------------------------------------------------------------
def save_torch_atomic(obj, path) -> None:
    """torch.save through the project's atomic writer (optimizer states, classifier weights): no torn files."""
    import torch

    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def save_checkpoint(path: str, model, extra_meta: dict | None = None) -> str:
    """Write ``model`` (an OscillatorGenerator) to ``path`` atomically; returns the path."""
    from safetensors.torch import save_file

    cfg: ModelConfig = model.cfg
    sd = {k.replace(UN0_PREFIX_SEGMENT, ""): v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    validate_tensors(cfg, {k: tuple(v.shape) for k, v in sd.items()}, path)
    meta = {"format": FORMAT, "config": json.dumps(cfg.to_dict(), sort_keys=True)}
    for k, v in (extra_meta or {}).items():
        if k in meta:
            raise ValueError(f"extra_meta key {k!r} is reserved")
        meta[str(k)] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    with atomic_output(path) as tmp:
        save_file(sd, tmp, metadata=meta)
    return path


def load_config_and_tensors(path: str) -> tuple[ModelConfig, dict]:
    """(config, {name: float32 np.ndarray}) without torch.

    Checks, in this order: metadata and config (sizes within model.config's MAX_* limits), then each tensor's
    name, shape and dtype from the file header (nothing is read yet), then the values (finite). Raises
    CheckpointError naming the file and the tensor; FileNotFoundError for a missing file.
    """
    from safetensors import safe_open

    cfg = _parse_metadata(read_metadata(path), path)
    try:
        with safe_open(path, framework="numpy") as f:
            header = {k: (tuple(f.get_slice(k).get_shape()), str(f.get_slice(k).get_dtype())) for k in f.keys()}
            validate_tensors(cfg, {k: s for k, (s, _) in header.items()}, path)
            for k, (_, dt) in header.items():
                if dt not in FLOAT_DTYPES:
                    raise CheckpointError(f"{path}: tensor {k!r} has dtype {dt}; this loader reads {FLOAT_DTYPES} "
                                          "(float64 only when its values are float32 values)")
            tensors = {k: f.get_tensor(k) for k in header}
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read tensors ({type(e).__name__}: {e})") from None
    return cfg, checked_weights(tensors, path)


def load_checkpoint(path: str, device: str = "cpu"):
    """Rebuild an OscillatorGenerator (eval mode) from one of our checkpoints (checked as load_config_and_tensors)."""
    import torch

    from .un0 import OscillatorGenerator

    cfg, arrays = load_config_and_tensors(path)
    sd = {k: torch.from_numpy(v) for k, v in arrays.items()}
    with torch.device("meta"):
        model = OscillatorGenerator(cfg)
    model.load_state_dict(sd, strict=True, assign=True)
    return model.to(device).eval()


# ----------------------------------------------------------------------------------------------
# Un-0 import
# ----------------------------------------------------------------------------------------------
#: Builder defaults when an Un-0 config lacks an arch key (fact sheet sections 4 and 12).
UN0_BUILDER_DEFAULTS = {
    "cifar10": dict(solver="rk4", num_steps=25, relativization="ref_oscillator",
                    parameterization="standard", encoding="sin_cos", class_dropout_prob=0.1),
    "imagenet64": dict(solver="euler", num_steps=10, relativization="ref_oscillator",
                       parameterization="mup", encoding="sin_cos", class_dropout_prob=0.1),
}
#: Un-0 config key -> our ModelConfig field.
UN0_KEY_MAP = {
    "n_oscillators": "n",
    "n_conditional_oscillators": "n_cond",
    "class_dropout_prob": "class_dropout_prob",
    "num_steps": "num_steps",
    "decoder_in_channels": "decoder_in_channels",
    "parameterization": "parameterization",
    "relativization": "relativization",
    "encoding": "encoding",
    "solver": "solver",
}


def _unpickle_reason(e: Exception) -> str:
    """The informative line of torch's weights_only error (not its advice to disable the check)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for ln in lines:
        if "GLOBAL" in ln or "Unsupported" in ln or "unsupported" in ln:
            return ln
    return lines[-1] if lines else type(e).__name__


def _torch_load_safe(path: str):
    import pickle

    import torch

    check_input(path, "Un-0 checkpoint", TORCH_FORMATS)
    with open(path, "rb") as f:
        head = f.read(4)
    # torch.save writes a zip archive (PK\x03\x04) or, in its legacy format, a pickle (protocol >= 2: 0x80 first)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        raise CheckpointError(f"{path}: not a torch checkpoint (zip/pickle) file (it starts with {head!r}); "
                              "pass the .pt file Un-0's training saved")
    try:
        with warnings.catch_warnings():  # torch's note on a pickle protocol it does not expect: the refusal says it
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "invalid load key" in str(e):
            raise CheckpointError(f"{path}: not a torch checkpoint (zip/pickle) file ({_unpickle_reason(e)})") from None
        raise CheckpointError(
            f"{path}: refused to load: the file contains pickled objects outside the safe tensor/"
            f"container set, so it could run code when unpickled. Only plain Un-0 checkpoints "
            f"(tensors, dicts, numbers, strings) are accepted. Details: {_unpickle_reason(e)}"
        ) from None
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(e).__name__}: {e})") from None


def un0_config_to_model_config(un0_cfg: dict, shapes: dict[str, tuple[int, ...]], name: str | None = None) -> ModelConfig:
    """Translate an Un-0 ``config`` dict + tensor shapes into a ModelConfig."""
    if "dynamics.K_drive" not in shapes:
        raise CheckpointError("state dict has no 'dynamics.K_drive'; is this an Un-0 generator checkpoint?")
    if len(shapes["dynamics.K_drive"]) != 3:
        raise CheckpointError(f"'dynamics.K_drive' has shape {shapes['dynamics.K_drive']}; Un-0 stores "
                              "(classes, n, n_cond)")
    num_classes, n, n_cond = shapes["dynamics.K_drive"]
    nblocks = len([k for k in shapes if k.startswith("decoder.cascade.") and k.endswith(".net.1.weight")])
    image_size = 4 * 2**nblocks
    ds = str(un0_cfg.get("dataset", "")).lower()
    if "imagenet" in ds or (not ds and num_classes == 1000):
        dataset = "imagenet64"
    elif "cifar" in ds or (not ds and num_classes == 10):
        dataset = "cifar10"
    else:
        raise CheckpointError(f"cannot tell the dataset (config dataset={un0_cfg.get('dataset')!r}, "
                              f"{num_classes} classes); supported: cifar10 (10 classes), imagenet64 (1000)")
    fields = dict(UN0_BUILDER_DEFAULTS[dataset])
    fields.update(n=n, n_cond=n_cond, num_classes=num_classes, image_size=image_size,
                  decoder_in_channels=shapes["decoder.cascade.0.net.1.weight"][1] if nblocks else 2 * n // 16)
    if dataset == "imagenet64":
        fields["init_output_gain"] = 1.0
    for src, dst in UN0_KEY_MAP.items():
        if un0_cfg.get(src) is not None:
            fields[dst] = un0_cfg[src]
    for key, want in (("n", n), ("n_cond", n_cond)):
        if int(fields[key]) != want:
            raise CheckpointError(f"config says {key}={fields[key]} but K_drive has shape {shapes['dynamics.K_drive']}")
    if name is None:
        guess = f"{dataset}-n{n}"
        name = guess if guess in CONFIGS else f"un0-{guess}"
    try:
        return ModelConfig(name=name, dataset=dataset, **{k: (int(v) if k in ("n", "n_cond", "num_steps",
                           "decoder_in_channels") else v) for k, v in fields.items()})
    except (ValueError, TypeError, OverflowError) as e:
        raise CheckpointError(f"Un-0 config cannot be mapped: {e}") from None


def import_un0(path: str, name: str | None = None, device: str = "cpu"):
    """Load an Un-0 ``.pt`` checkpoint ({"model": state_dict, "config": {...}, ...}) safely."""
    import torch

    from .un0 import OscillatorGenerator

    obj = _torch_load_safe(path)
    if not isinstance(obj, dict) or "model" not in obj or "config" not in obj:
        got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path}: expected an Un-0 checkpoint dict with keys 'model' and 'config', got {got}")
    sd_raw, un0_cfg = obj["model"], obj["config"]
    if not isinstance(sd_raw, dict) or not isinstance(un0_cfg, dict):
        raise CheckpointError(f"{path}: 'model' must be a state dict and 'config' a dict")
    sd = {}
    for k, v in sd_raw.items():
        if not isinstance(v, torch.Tensor):
            raise CheckpointError(f"{path}: state-dict entry {k!r} is not a tensor")
        k = k.replace(UN0_PREFIX_SEGMENT, "")
        _refuse_expanded(k, v, path)
        sd[k] = v
    # Config (with its MAX_* limits) and shapes are checked from the tensors' metadata before any data is copied.
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    cfg = un0_config_to_model_config(un0_cfg, shapes, name)
    validate_tensors(cfg, shapes, path)
    arrays = checked_weights(sd, path)
    with torch.device("meta"):
        model = OscillatorGenerator(cfg)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()}, strict=True, assign=True)
    return model.to(device).eval()


def _refuse_expanded(key: str, t, path: str) -> None:
    """Refuse a tensor whose elements need more bytes than its storage holds (stride-0 / expanded views):
    a few-kilobyte file would otherwise become gigabytes when converted."""
    need = t.numel() * t.element_size()
    have = t.untyped_storage().nbytes()
    if need > have or any(st == 0 and sz > 1 for st, sz in zip(t.stride(), t.shape)):
        raise CheckpointError(f"{path}: tensor {key!r} of shape {tuple(t.shape)} is an expanded view (strides "
                              f"{tuple(t.stride())}, {have} bytes stored for {need} needed); a real checkpoint "
                              "stores every element")


def main(argv=None) -> int:
    from fixedpoint import cli

    ap = cli.ArgumentParser(prog="python -m model.checkpoint", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    imp = sub.add_parser("import-un0", help="convert an Un-0 .pt checkpoint to our .safetensors format")
    imp.add_argument("src", type=cli.existing_file, help="Un-0 .pt checkpoint (read with torch's weights-only unpickler)")
    imp.add_argument("dst", type=cli.output_file(cli.SAFETENSORS_FORMATS), help="our .safetensors file to write")
    imp.add_argument("--name", default=None, help="config name to store (default: derived from the shapes)")
    info = sub.add_parser("info", help="print config and tensor shapes of a .safetensors checkpoint")
    info.add_argument("path", type=cli.existing_file, help="checkpoint to describe (.safetensors or Un-0 .pt)")
    args = ap.parse_args(argv)
    if args.cmd == "import-un0":
        if os.path.abspath(args.src) == os.path.abspath(args.dst):
            ap.error("import-un0 would overwrite its source; give another destination")
        if args.name is not None and not args.name.strip():
            ap.error("--name must not be empty")
    try:
        if args.cmd == "import-un0":
            model = import_un0(args.src, name=args.name)
            save_checkpoint(args.dst, model, extra_meta={"imported_from": os.path.basename(args.src)})
            print(f"wrote {args.dst} (config {model.cfg.name})")
        else:
            cfg, tensors = load_config_and_tensors(args.path)
            print(json.dumps(cfg.to_dict(), indent=2))
            for k, v in tensors.items():
                print(f"{k}\t{tuple(v.shape)}\t{v.dtype}")
    except (CheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
