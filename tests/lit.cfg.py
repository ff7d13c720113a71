import os
import shutil
import subprocess
import lit.formats
from lit.llvm import llvm_config

config.name = "gptc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".toml", ".test"]
config.excludes = ["Inputs", "golden", "unit", "gpu", "ptxas", "CMakeLists.txt",
                   "lit.cfg.py",
                   "lit.site.cfg.py", "gptc-lit.in"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.gptc_obj_root, "tests")
config.environment["FILECHECK_OPTS"] = "-enable-var-scope --allow-unused-prefixes=false"
llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

tool_dirs = [os.path.join(config.gptc_obj_root, "bin"), config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["gptc", "gptc-opt"], tool_dirs)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

if shutil.which("c++"):
    config.available_features.add("host-cxx")
# cuda-runtime: gptc was built with nvcc, so --target=cuda works.
# cuda-device: a GPU that gptc's CUDA binaries can use is present.
if config.gptc_have_cuda_runtime:
    config.available_features.add("cuda-runtime")
    info = os.path.join(config.gptc_obj_root, "bin", "gptc-cuda-info")
    if subprocess.run([info], capture_output=True).returncode == 0:
        config.available_features.add("cuda-device")
# mpirun: Open MPI's launcher, for the data-parallel tests. CI runs as root,
# which Open MPI refuses unless allowed through its two variables; the
# ranks may outnumber the cores, and single-copy shared memory (which needs
# ptrace rights that containers often lack) is off.
if shutil.which("mpirun"):
    config.available_features.add("mpirun")
    config.environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    config.environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    config.substitutions.append(
        ("%mpirun", "mpirun --oversubscribe "
                    "--mca btl_vader_single_copy_mechanism none"))
# netns: network namespaces can be made and entered here (root with
# CAP_SYS_ADMIN and iproute2; `ip netns exec` also needs to remount /sys,
# which a chroot may refuse), for the test of two hosts over TCP.
probe = "gptc-lit-probe-%d" % os.getpid()
probed = None
if shutil.which("ip"):
    probed = subprocess.run(["ip", "netns", "add", probe], capture_output=True)
    if probed.returncode == 0:
        probed = subprocess.run(["ip", "netns", "exec", probe, "true"],
                                capture_output=True)
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
if probed and probed.returncode == 0:
    config.available_features.add("netns")
else:
    reason = probed.stderr.decode().strip() if probed else "no 'ip' command"
    lit_config.note("the two-host data-parallel test is skipped: cannot "
                    "create or enter a network namespace (%s)" % reason)
config.substitutions.append(("%gptc_src_root", config.gptc_src_root))
# Long prompts for the decode tests (lit has no loops).
config.substitutions.append(("%{long60}", "x" * 60))
config.substitutions.append(("%{long70}", "x" * 70))
config.substitutions.append(("%golden", os.path.join(config.gptc_src_root, "tests", "golden")))
