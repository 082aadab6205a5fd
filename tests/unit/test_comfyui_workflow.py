"""ComfyUI graph injection and the readers of /object_info, /queue, /history and websocket frames."""
from __future__ import annotations

import copy
import json

import pytest

from devserver.backends.base import Progress
from devserver.backends.comfyui_progress import Tracker, history_outcome, queue_position
from devserver.backends.comfyui_workflow import (inject, mapped_value, missing_models, missing_nodes, offered_anywhere,
                                                 output_files, unmapped)
from devserver.errors import BackendError, ConfigError
from devserver.schemas.models import InputMapping

GRAPH = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "placeholder", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "3": {"class_type": "KSampler", "inputs": {"seed": 0, "steps": 20, "cfg": 7, "model": ["4", 0],
                                               "positive": ["6", 0], "negative": ["7", 0],
                                               "latent_image": ["5", 0]}},
}
MAPPINGS = {"prompt": InputMapping(node="6", field="text"), "negative_prompt": InputMapping(node="7", field="text"),
            "seed": InputMapping(node="3", field="seed"), "cfg": InputMapping(node="3", field="cfg"),
            "width": InputMapping(node="5", field="width")}
OBJECT_INFO = {
    "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [["sd15.safetensors", "SDXL\\base.safetensors"],
                                                                    {}]}}},
    "EmptyLatentImage": {"input": {"required": {"width": ["INT", {}]}}},
    "CLIPTextEncode": {"input": {"required": {"text": ["STRING", {}]}}},
    "KSampler": {"input": {"required": {"sampler_name": ["COMBO", {"options": ["euler"]}]}}},
    "UNETLoader": {"input": {"required": {"unet_name": ["COMBO", {"options": ["flux1-dev.safetensors"]}]},
                             "optional": {}}},
}


def test_inject_writes_each_value_at_its_mapped_input_and_leaves_the_workflow_alone():
    original = copy.deepcopy(GRAPH)
    graph = inject(GRAPH, MAPPINGS, {"prompt": "a red fox", "negative_prompt": "blurry", "seed": 42, "cfg": 5,
                                     "width": 768})
    assert graph["6"]["inputs"]["text"] == "a red fox"
    assert graph["7"]["inputs"]["text"] == "blurry"
    assert graph["3"]["inputs"]["seed"] == 42
    assert graph["3"]["inputs"]["cfg"] == 5.0 and isinstance(graph["3"]["inputs"]["cfg"], float)
    assert graph["5"]["inputs"]["width"] == 768
    assert graph["3"]["inputs"]["positive"] == ["6", 0]  # links survive
    assert GRAPH == original
    graph["6"]["inputs"]["text"] = "changed"
    assert GRAPH["6"]["inputs"]["text"] == "placeholder"  # a deep copy, not a shared node


def test_values_without_a_mapping_are_left_out_and_named():
    values = {"prompt": "fox", "steps": 8, "duration": 3.0}
    graph = inject(GRAPH, MAPPINGS, values)
    assert graph["3"]["inputs"]["steps"] == 20
    assert unmapped(MAPPINGS, values) == ["duration", "steps"]
    assert mapped_value(graph, MAPPINGS, "seed") == 0
    assert mapped_value(graph, MAPPINGS, "steps") is None


def test_a_mapping_onto_a_link_or_a_missing_node_is_a_config_error():
    with pytest.raises(ConfigError, match="link"):
        inject(GRAPH, {"prompt": InputMapping(node="3", field="positive")}, {"prompt": "fox"})
    with pytest.raises(ConfigError, match="not in the workflow"):
        inject(GRAPH, {"prompt": InputMapping(node="99", field="text")}, {"prompt": "fox"})
    with pytest.raises(ConfigError, match="no input"):
        inject(GRAPH, {"prompt": InputMapping(node="6", field="txt")}, {"prompt": "fox"})


def test_missing_nodes_and_models_are_found_in_both_combo_formats():
    assert missing_nodes(GRAPH, OBJECT_INFO) == []
    assert missing_nodes({**GRAPH, "9": {"class_type": "FancyUpscale", "inputs": {}}}, OBJECT_INFO) == ["FancyUpscale"]
    assert missing_models(GRAPH, OBJECT_INFO, ["sd15.safetensors", "SDXL/base.safetensors"]) == []
    assert missing_models(GRAPH, OBJECT_INFO, ["sdxl.safetensors"]) == ["sdxl.safetensors"]
    # a model only another node class offers is not usable by this graph's loaders
    assert missing_models(GRAPH, OBJECT_INFO, ["flux1-dev.safetensors"]) == ["flux1-dev.safetensors"]
    assert offered_anywhere(OBJECT_INFO, "flux1-dev.safetensors")
    assert not offered_anywhere(OBJECT_INFO, "nope.safetensors")


def test_output_files_come_from_any_key_the_save_node_used():
    outputs = {"gifs": [{"filename": "clip_00001.mp4", "subfolder": "vids", "type": "output", "format": "video/h264"}],
               "animated": [True], "text": ["a caption"]}
    assert output_files(outputs) == [{"filename": "clip_00001.mp4", "subfolder": "vids", "type": "output"}]
    assert output_files({"audio": [{"filename": "a.flac"}]}) == [{"filename": "a.flac", "subfolder": "",
                                                                   "type": "output"}]


def test_queue_position_counts_the_prompts_ahead():
    queue = {"queue_running": [[0, "run", {}, {}, []]],
             "queue_pending": [[5, "late", {}, {}, []], [2, "early", {}, {}, []]]}
    assert queue_position(queue, "run") == 0
    assert queue_position(queue, "early") == 2  # behind the running one
    assert queue_position(queue, "late") == 3
    assert queue_position(queue, "gone") is None
    assert queue_position({"queue_running": [], "queue_pending": [[1, "next", {}, {}, []]]}, "next") == 1


def test_history_outcome_returns_success_and_raises_what_failed():
    done = {"outputs": {"9": {}}, "status": {"status_str": "success", "completed": True, "messages": []}}
    assert history_outcome(done, "p", "comfyui") == done
    failed = {"outputs": {}, "status": {"status_str": "error", "completed": False, "messages": [
        ["execution_start", {"prompt_id": "p"}],
        ["execution_error", {"prompt_id": "p", "node_id": "3", "node_type": "KSampler",
                             "exception_message": "CUDA error", "exception_type": "RuntimeError"}]]}}
    with pytest.raises(BackendError) as err:
        history_outcome(failed, "p", "comfyui")
    assert err.value.code == "comfyui_execution_error" and err.value.details["node_type"] == "KSampler"
    assert "CUDA error" in err.value.message and not err.value.retryable
    stopped = {"outputs": {}, "status": {"status_str": "error", "completed": False,
                                         "messages": [["execution_interrupted", {"prompt_id": "p", "node_id": "3"}]]}}
    with pytest.raises(BackendError) as err:
        history_outcome(stopped, "p", "comfyui")
    assert err.value.code == "cancelled"


def test_tracker_reports_only_our_prompt_and_notices_both_completion_signals():
    seen: list[Progress] = []
    tracker = Tracker("mine", seen.append, "comfyui")
    frame = lambda kind, **data: json.dumps({"type": kind, "data": data})  # noqa: E731
    assert not tracker.feed(frame("status", status={"exec_info": {"queue_remaining": 1}}, sid="c"))
    assert not tracker.feed(frame("progress", value=1, max=4, prompt_id="other", node="3"))
    assert not tracker.feed(b"\x00\x00\x00\x01\x00\x00\x00\x02\x89PNG")  # binary preview
    assert not tracker.feed("not json")
    assert tracker.feed(frame("progress", value=2, max=4, prompt_id="mine", node="3"))
    assert seen == [Progress(2, 4, node="3", message="steps")]
    assert not tracker.finished
    tracker.feed(frame("executing", node=None, prompt_id="mine"))
    assert tracker.finished
    other = Tracker("mine", seen.append, "comfyui")
    other.feed(frame("execution_success", prompt_id="mine", timestamp=1))
    assert other.finished


def test_tracker_raises_on_execution_error_and_interruption():
    tracker = Tracker("mine", lambda _p: None, "comfyui")
    oom = json.dumps({"type": "execution_error", "data": {
        "prompt_id": "mine", "node_id": "3", "node_type": "KSampler", "exception_type": "torch.OutOfMemoryError",
        "exception_message": "out of memory"}})
    with pytest.raises(BackendError) as err:
        tracker.feed(oom)
    assert err.value.code == "comfyui_execution_error" and err.value.retryable  # freeing VRAM may help
    with pytest.raises(BackendError) as err:
        tracker.feed(json.dumps({"type": "execution_interrupted", "data": {"prompt_id": "mine", "node_id": "3"}}))
    assert err.value.code == "cancelled"


def frame(kind: str, **data) -> str:
    return json.dumps({"type": kind, "data": data})


def state(**nodes: str) -> dict:
    """A cumulative progress_state map as 0.3.64 sends it: every node so far with its state."""
    return {nid: {"state": st, "value": 1.0 if st == "finished" else 0.0, "max": 1.0, "node_id": nid,
                  "display_node_id": nid, "parent_node_id": None, "real_node_id": nid} for nid, st in nodes.items()}


def test_a_graph_without_a_sampler_reports_node_counts_from_cumulative_progress_state():
    seen: list[Progress] = []
    tracker = Tracker("p", seen.append, "comfyui", nodes=["1", "2", "3"])
    tracker.feed(frame("execution_start", prompt_id="p", timestamp=1))
    tracker.feed(frame("execution_cached", prompt_id="p", nodes=["1"]))
    for nodes in ({"2": "running"}, {"2": "finished"}, {"2": "finished"}, {"2": "finished", "3": "running"},
                  {"2": "finished", "3": "finished"}):
        tracker.feed(frame("progress_state", prompt_id="p", nodes=state(**nodes)))
    assert seen[0].queue == 0  # execution_start: the prompt left ComfyUI's queue
    assert [(p.current, p.total) for p in seen[1:]] == [(1, 3), (2, 3), (3, 3)]  # repeats are not re-sent


def test_executing_frames_alone_count_nodes_and_a_sampler_takes_over_from_node_counts():
    seen: list[Progress] = []
    tracker = Tracker("p", seen.append, "comfyui", nodes=["4", "3", "8"])
    tracker.feed(frame("executing", prompt_id="p", node="4", display_node="4"))
    tracker.feed(frame("executing", prompt_id="p", node="3", display_node="3"))
    tracker.feed(frame("progress", prompt_id="p", node="3", value=1, max=2))
    tracker.feed(frame("progress", prompt_id="p", node="3", value=2, max=2))
    tracker.feed(frame("executing", prompt_id="p", node="8", display_node="8"))
    assert [(p.current, p.total, p.message) for p in seen] == [(0, 3, "nodes"), (1, 3, "nodes"), (1, 2, "steps"),
                                                               (2, 2, "steps")]


def test_a_status_frame_before_the_start_asks_for_the_queue_position_and_not_after():
    tracker = Tracker("p", lambda _p: None, "comfyui")
    tracker.feed(frame("status", status={"exec_info": {"queue_remaining": 2}}))
    assert tracker.queue_changed
    tracker.queue_changed = False
    tracker.feed(frame("execution_start", prompt_id="p", timestamp=1))
    tracker.feed(frame("status", status={"exec_info": {"queue_remaining": 1}}))
    assert not tracker.queue_changed
