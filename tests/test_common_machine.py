import os

from common.machine import cpu_description, cpu_model


def test_cpu_model_is_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\nflags\t: fpu\n")
    assert cpu_model(str(cpuinfo)) == "AMD EPYC 9R14"
    assert cpu_model(str(tmp_path / "missing"))  # falls back, never empty


def test_cpu_description_names_family_count_and_native_bfloat16(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC\ncpu family\t: 26\nflags\t: fpu avx512f avx512_bf16 avx512_vnni\n"
    )
    assert cpu_description(str(cpuinfo)) == f"AMD EPYC (family 26), {os.cpu_count()} CPUs, AVX-512 BF16"
    cpuinfo.write_text("model name\t: Intel Xeon\nflags\t: fpu avx2\n")
    assert cpu_description(str(cpuinfo)) == f"Intel Xeon, {os.cpu_count()} CPUs"
