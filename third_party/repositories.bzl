"""External repositories of parsity, all wrapping software installed from Debian packages.

A consumer's WORKSPACE imports parsity like this:

    local_repository(name = "parsity", path = "/path/to/parsity")
    load("@parsity//third_party:repositories.bzl", "parsity_dependencies")
    parsity_dependencies()

Nothing here downloads anything: every repository is made of symlinks into /usr and BUILD text written below.
`tools/bootstrap.sh` installs the Debian packages these paths come from.
"""

def _system_repository_impl(repository_ctx):
    for target, link_name in repository_ctx.attr.symlinks.items():
        if not repository_ctx.path(target).exists:
            fail("parsity: %s is missing; run tools/bootstrap.sh to install the Debian packages" % target)
        repository_ctx.symlink(target, link_name)
    for name, content in repository_ctx.attr.files.items():
        repository_ctx.file(name, content, executable = name.endswith(".sh"))
    repository_ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % repository_ctx.name)

# A repository made of symlinks to installed files plus BUILD files written from strings. Unlike
# new_local_repository it can link single files and needs no label of a BUILD file, so it works the same whether
# parsity is the main repository or imported as @parsity.
_system_repository = repository_rule(
    implementation = _system_repository_impl,
    attrs = {
        "symlinks": attr.string_dict(doc = "absolute path on this machine -> name inside the repository"),
        "files": attr.string_dict(doc = "file name -> content"),
    },
    local = True,
)

_RULES_CC_DEFS = '''"""Forwards the rules_cc API to the rules built into Bazel 4.2.3."""
def cc_binary(**attrs):
    native.cc_binary(**attrs)

def cc_library(**attrs):
    native.cc_library(**attrs)

def cc_test(**attrs):
    native.cc_test(**attrs)

def cc_import(**attrs):
    native.cc_import(**attrs)

def cc_proto_library(**attrs):
    native.cc_proto_library(**attrs)

def objc_library(**attrs):
    native.objc_library(**attrs)

def objc_import(**attrs):
    native.objc_import(**attrs)

def fdo_profile(**attrs):
    native.fdo_profile(**attrs)

def fdo_prefetch_hints(**attrs):
    native.fdo_prefetch_hints(**attrs)

def cc_toolchain(**attrs):
    native.cc_toolchain(**attrs)

def cc_toolchain_suite(**attrs):
    native.cc_toolchain_suite(**attrs)
'''

_RULES_CC_BUILD = '''package(default_visibility = ["//visibility:public"])

alias(
    name = "toolchain_type",
    actual = "@bazel_tools//tools/cpp:toolchain_type",
)
'''

_COVERAGE_BUILD = '''package(default_visibility = ["//visibility:public"])

# Stand-ins for the coverage tools Bazel would download. parsity does not run `bazel coverage`; these exist only
# so that test rules, which name them as implicit dependencies, can be analysed offline.
sh_binary(
    name = "lcov_merger",
    srcs = ["unavailable.sh"],
)

sh_binary(
    name = "coverage_report_generator",
    srcs = ["unavailable.sh"],
)

filegroup(
    name = "coverage_output_generator",
    srcs = [],
)
'''

_COVERAGE_UNAVAILABLE = '''#!/bin/sh
echo "parsity: coverage tools are not available offline" >&2
exit 1
'''

_PROTOBUF_BUILD = '''package(default_visibility = ["//visibility:public"])

exports_files(["protoc"])

# Bazel 4.2.3's native proto rules look for the compiler at @com_google_protobuf//:protoc (an executable file
# here, Debian's /usr/bin/protoc) and for the C++ toolchain at @com_google_protobuf//:cc_toolchain.
cc_library(
    name = "protobuf",
    linkopts = ["-lprotobuf", "-lpthread"],
)

proto_lang_toolchain(
    name = "cc_toolchain",
    command_line = "--cpp_out=$(OUT)",
    runtime = ":protobuf",
)
'''

_EIGEN_BUILD = '''package(default_visibility = ["//visibility:public"])

cc_library(
    name = "eigen",
    hdrs = glob(["include/Eigen/**", "include/unsupported/Eigen/**"]),
    includes = ["include"],
    # Eigen's default would assert in optimized builds too; parsity checks shapes at its API boundaries.
    defines = ["EIGEN_NO_DEBUG", "EIGEN_MPL2_ONLY"],
)
'''

_OPENMPI_BUILD = '''package(default_visibility = ["//visibility:public"])

cc_library(
    name = "openmpi",
    hdrs = glob(["include/**/*.h"]),
    includes = ["include"],
    # parsity uses MPI's C API; the deprecated C++ bindings would need -lmpi_cxx.
    defines = ["OMPI_SKIP_MPICXX"],
    linkopts = ["-L/usr/lib/x86_64-linux-gnu/openmpi/lib", "-lmpi"],
)
'''

def parsity_dependencies():
    """Declares every external repository parsity's BUILD files refer to."""

    # Bazel 4.2.3's own tools load @rules_cc//cc:defs.bzl. The rules_cc Bazel would download is unreachable offline
    # and Debian's bazel-rules-cc is written for a newer Bazel, so this shim forwards to the native rules.
    _system_repository(
        name = "rules_cc",
        files = {
            "BUILD": "",
            "cc/BUILD": _RULES_CC_BUILD,
            "cc/defs.bzl": _RULES_CC_DEFS,
        },
    )

    # Java rules are needed by Bazel's own tool packages even in a C++-only build; Debian ships a matching copy.
    if not native.existing_rule("rules_java"):
        native.local_repository(
            name = "rules_java",
            path = "/usr/share/bazel/rules/java",
        )

    # Every test rule depends on the coverage tools Bazel would download; a local stand-in satisfies it.
    _system_repository(
        name = "remote_coverage_tools",
        files = {
            "BUILD": _COVERAGE_BUILD,
            "unavailable.sh": _COVERAGE_UNAVAILABLE,
        },
    )

    _system_repository(
        name = "com_google_protobuf",
        symlinks = {"/usr/bin/protoc": "protoc"},
        files = {"BUILD": _PROTOBUF_BUILD},
    )

    _system_repository(
        name = "parsity_system_eigen",
        symlinks = {"/usr/include/eigen3": "include"},
        files = {"BUILD": _EIGEN_BUILD},
    )

    _system_repository(
        name = "parsity_system_openmpi",
        symlinks = {"/usr/lib/x86_64-linux-gnu/openmpi/include": "include"},
        files = {"BUILD": _OPENMPI_BUILD},
    )
