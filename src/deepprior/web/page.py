"""The page's layout (gradio) and its wiring to :class:`Handlers`, which read the form once into a Request, plan a
Job like the command line (every check before the fit) and run it in a :class:`LiveRun`; refused input is a
message on the page, never a traceback."""

from __future__ import annotations

from typing import Any

import gradio as gr
import torch

from ..jobs.tasks import MASK_TASKS
from .form import TASKS, Request, split_task
from .handlers import INVENTED, KEEP, RESTORED, Handlers
from .uploads import Limits
from .workspace import Workspace

INTRO = """# deepprior: restore a photo with the Deep Image Prior
An untrained network is fitted to your one image; its structure alone is the prior. Upload a photo, choose what
is wrong with it, press **Restore** and watch. On a CPU a 256 px photo takes one to a few minutes."""
MASK_HELP = ("**Paint the missing pixels in red.** Red means missing; every pixel you do not paint is kept as it "
             "is, white ones included. Brush size, eraser, undo and clear are in the editor's toolbar.")


def build(workspace: Workspace, limits: Limits = Limits(), every: int = 25, runs_at_once: int = 1) -> gr.Blocks:
    """The page: the form on the left, the live run and its results on the right."""
    handlers = Handlers(workspace, limits)
    with gr.Blocks(title="deepprior", analytics_enabled=False) as demo:
        image = gr.State(None)
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                form = _form(limits, every)
            with gr.Column(scale=2):
                out = _outputs()
        _wire(demo, handlers, image, form, out, runs_at_once)
    return demo


def _form(limits: Limits, every: int) -> dict[str, Any]:
    f: dict[str, Any] = {}
    f["upload"] = gr.File(label=f"Image: PNG, JPEG, TIFF, WebP or BMP, {limits.describe()}", type="filepath",
                          elem_id="upload")
    f["task"] = gr.Dropdown(choices=list(TASKS), value="denoise", label="What is wrong with it", elem_id="task")
    with gr.Group(visible=False) as f["mask_group"]:
        gr.Markdown(MASK_HELP)
        f["editor"] = gr.ImageEditor(type="numpy", format="png", sources=(), transforms=(), layers=False,
                                     brush=gr.Brush(default_size=12, colors=["#ff0000"], color_mode="fixed"),
                                     eraser=gr.Eraser(default_size=12), label="mask", elem_id="editor")
        with gr.Accordion("Or upload or make a mask", open=False):
            f["mask_file"] = gr.File(label="mask image: white = known, black = missing", type="filepath")
            f["mask_kind"] = gr.Radio(["text", "holes", "drop"], value="text", label="make a mask of")
            f["mask_text"] = gr.Textbox("deep image prior", label="text (words over the image)")
            f["font_size"] = gr.Number(0, precision=0, label="font size in px (0: chosen for the image)")
            f["holes"] = gr.Slider(1, 20, 5, step=1, label="random holes")
            f["drop"] = gr.Slider(5, 95, 50, step=5, label="drop this % of the pixels")
            f["make_mask"] = gr.Button("Make mask", elem_id="make-mask")
    with gr.Accordion("Simulate a corruption of a clean image (scores the result against it)", open=False):
        f["simulate"] = gr.Checkbox(False, label="my image is clean: corrupt it here and score against it",
                                    elem_id="simulate")
        f["sigma"] = gr.Slider(0, 100, 25, step=1, label="noise std, 0-255 (denoise, deblur)")
        f["quality"] = gr.Slider(5, 95, 10, step=5, label="JPEG quality (JPEG artifacts)")
    f["kernel"] = gr.Textbox("gaussian:1.6", label="blur: gaussian:SIGMA or motion:LENGTH,ANGLE", visible=False)
    f["preset"] = gr.Radio(["fast", "paper"], value="fast", label="preset (fast: same quality sooner)")
    f["steps"] = gr.Textbox("auto", label="steps: auto (stops by itself) or a number", elem_id="steps")
    with gr.Accordion("More options", open=False):
        f["seed"] = gr.Number(0, precision=0, label="seed")
        devices = ["auto", "cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        f["device"] = gr.Dropdown(devices, value="auto", label="device")
        f["every"] = gr.Slider(1, 200, every, step=1, label="show the output every K steps")
        f["compare"] = gr.Checkbox(False, label="also run the classical methods (CBM3D, biharmonic, bicubic...)")
    f["uncertainty"] = gr.Checkbox(False, label="show where the result was invented (uncertainty map, nearly free)",
                                   elem_id="uncertainty")
    with gr.Row():
        f["run"] = gr.Button("Restore", variant="primary", elem_id="run")
        f["cancel"] = gr.Button("Cancel", variant="stop", elem_id="cancel")
    return f


def _outputs() -> dict[str, Any]:
    o: dict[str, Any] = {}
    o["status"] = gr.Markdown("Upload an image to start.", elem_id="status")
    with gr.Row():
        o["preview"] = gr.Image(label="live: the output (EMA)", interactive=False, elem_id="preview",
                                format="png")
        o["curves"] = gr.LinePlot(x="step", y="dB", color="curve", label="PSNR curves", elem_id="curves")
    o["view"] = gr.Radio([RESTORED, INVENTED], value=RESTORED, label="show", visible=False, elem_id="view")
    o["views"] = gr.State({})
    o["slider"] = gr.ImageSlider(label="before / after (drag; fullscreen to zoom)", interactive=False,
                                 format="png", elem_id="slider")
    o["table"] = gr.Markdown(elem_id="metrics")
    o["gallery"] = gr.Gallery(label="classical methods", visible=False, columns=3, format="png")
    o["files"] = gr.File(label="download: the image and the report (zip)", file_count="multiple",
                         interactive=False, elem_id="downloads")
    return o


def _keep(value: Any) -> Any:
    return gr.update() if value is KEEP else value


RUN_OUTPUTS = ("status", "preview", "curves", "slider", "table", "gallery", "files", "view", "views")


def _wire(demo: gr.Blocks, h: Handlers, image: gr.State, f: dict[str, Any], o: dict[str, Any],
          runs_at_once: int) -> None:
    """Connect the widgets to the handlers. Runs queue one ``runs_at_once`` at a time (gradio shows each
    waiting session its place); the light actions do not wait behind them."""
    f["upload"].upload(lambda p: tuple(map(_keep, h.upload(p))), [f["upload"]],
                       [image, f["editor"], o["status"], f["upload"]], concurrency_limit=None)
    f["task"].change(_task_widgets, [f["task"]], [f["mask_group"], f["kernel"]], concurrency_limit=None)
    f["mask_file"].change(lambda img, p: tuple(map(_keep, h.mask_upload(img, p))), [image, f["mask_file"]],
                          [f["editor"], o["status"]], concurrency_limit=None)
    f["make_mask"].click(lambda *a: tuple(map(_keep, h.make_mask(*a))),
                         [image, f["mask_kind"], f["mask_text"], f["font_size"], f["holes"], f["drop"],
                          f["seed"]], [f["editor"], o["status"]], concurrency_limit=None)
    names = ("task", "preset", "steps", "seed", "device", "simulate", "sigma", "quality", "kernel", "uncertainty")

    def restore(img, editor, compare, every, task, preset, steps, seed, device, simulate, sigma, quality, kernel,
                uncertainty, request: gr.Request):  # gradio passes the request by its annotation, so no *args here
        req = Request(task, preset, steps, seed, device, simulate, sigma, quality, kernel, bool(uncertainty))
        try:
            for update in h.restore(request.session_hash, img, editor, req, bool(compare), int(every)):
                yield tuple(_shown(k, update[k]) if k in update else gr.update() for k in RUN_OUTPUTS)
        except Exception as e:  # a bug, not the user's input: said on the page, the server goes on
            yield (f"**Failed:** {type(e).__name__}: {e}",) + tuple(gr.update() for _ in RUN_OUTPUTS[1:])

    f["run"].click(restore, [image, f["editor"], f["compare"], f["every"], *(f[n] for n in names)],
                   [o[k] for k in RUN_OUTPUTS], concurrency_limit=runs_at_once, concurrency_id="fit")

    def cancel(request: gr.Request):
        return h.cancel(request.session_hash)

    f["cancel"].click(cancel, None, [o["status"]], queue=False)
    # The toggle over the finished result: the restored image or the uncertainty map laid over it.
    o["view"].change(lambda choice, views: views.get(choice, gr.update()), [o["view"], o["views"]],
                     [o["preview"]], concurrency_limit=None)

    def leave(request: gr.Request):
        h.leave(request.session_hash)

    demo.unload(leave)


def _shown(key: str, value: Any) -> Any:
    """The classical methods' gallery shows only when they ran, the toggle only when there is a map."""
    if key == "gallery":
        return gr.update(value=value, visible=bool(value))
    if key == "view":
        return gr.update(value=RESTORED, visible=bool(value))
    return value


def _task_widgets(choice: str) -> tuple[Any, Any]:
    task, _ = split_task(choice)
    return gr.update(visible=task in MASK_TASKS), gr.update(visible=task == "deblur")


def theme() -> gr.themes.Base:
    """The default look with the system's fonts: the page asks nothing of any other server (no web fonts)."""
    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
