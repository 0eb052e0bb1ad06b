"""Which machine ran something: the CPU model that run records and the demo record name."""

from __future__ import annotations

import os
import platform


def cpu_model(cpuinfo_path: str = "/proc/cpuinfo") -> str:
    """The CPU's model name as /proc/cpuinfo gives it (platform.processor() elsewhere)."""
    try:
        with open(cpuinfo_path) as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_description(cpuinfo_path: str = "/proc/cpuinfo") -> str:
    """Model name, family, logical CPUs and native bfloat16, e.g. 'AMD EPYC (family 26), 2 CPUs,
    AVX-512 BF16': a virtual machine's model name alone ('AMD EPYC') does not tell the generation."""
    fields = {}
    try:
        with open(cpuinfo_path) as handle:
            for line in handle:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return cpu_model(cpuinfo_path)
    parts = [cpu_model(cpuinfo_path) + (f" (family {fields['cpu family']})" if "cpu family" in fields else "")]
    parts.append(f"{os.cpu_count()} CPUs")
    if "avx512_bf16" in fields.get("flags", "").split():
        parts.append("AVX-512 BF16")
    return ", ".join(parts)
