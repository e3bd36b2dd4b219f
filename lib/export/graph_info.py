"""What an exported graph is: its task and the kwargs a task needs, read from its output's
name (``OUTPUT_NAMES``, what this project's export writes) or, for a graph exported
elsewhere, from its output's shape: ``[1, 2N]`` landmarks, ``[1, K, S, S]`` class scores."""
from __future__ import annotations

from .onnx_export import OUTPUT_NAMES

_TASK_BY_OUTPUT = {name: task for task, name in OUTPUT_NAMES.items()}


def graph_task(path, input_shape, output_name: str, output_shape) -> tuple[str, dict]:
    """``(task, kwargs)``: ``{"num_points", "img_size"}`` or ``{"num_classes", "img_size"}``.
    A ValueError names the file when the output is neither."""
    input_shape, output_shape = list(input_shape), list(output_shape)
    task = _TASK_BY_OUTPUT.get(output_name)
    if task is None:
        task = {2: "landmark", 4: "segmentation"}.get(len(output_shape))
    img_size = input_shape[2] if len(input_shape) == 4 else 0
    if task == "landmark" and len(output_shape) == 2 and output_shape[1] % 2 == 0:
        return task, {"num_points": output_shape[1] // 2, "img_size": img_size}
    if task == "segmentation" and len(output_shape) == 4:
        return task, {"num_classes": output_shape[1], "img_size": img_size}
    raise ValueError(f"{path}: output {output_name!r} of shape {output_shape} is neither "
                     "landmarks [1, 2N] nor class scores [1, K, S, S]")
