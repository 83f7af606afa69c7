"""Compiler flags and rule wrappers for parsity's own code. Every flag has its reason beside it.

External code (system headers, generated protobuf code outside our packages) is not subject to these flags: they
are attached only to targets declared through the wrappers below, and `.bazelrc` silences warnings in `external/`.
"""

PARSITY_COPTS = [
    # Warnings are errors on our code only: they are cheap to fix when they appear and expensive to find later.
    "-Wall",
    "-Wextra",
    "-Werror",
] + select({
    # GCC only: clang, which builds the fuzz targets (--config=fuzz, tools/fuzz/README.md), rejects the flag.
    str(Label("//tools:clang")): [],
    "//conditions:default": [
        # Element-wise loops over float buffers (optimizer updates, masks, buffer arithmetic) have run-time sizes.
        # At -O2 (Bazel's -c opt) GCC 12 vectorizes with its "very-cheap" cost model, which refuses loops that need
        # an alias check or a scalar epilogue, i.e. all of ours; the dynamic model vectorizes them (optimizer steps
        # 2-4x faster). The bits do not change: vectorized or not, each element gets the same operations. (GCC 12
        # contracts a * b + c into a fused multiply-add in C++ even with -std=c++17, vectorized or not; hand-written
        # kernels spell out their fused multiply-adds.)
        "-fvect-cost-model=dynamic",
    ],
}) + [
    # sqrt and friends need not set errno, so they compile to single vectorizable instructions (Adam's update).
    "-fno-math-errno",
    # A class with virtual functions deleted through a base pointer must have a virtual destructor.
    "-Wnon-virtual-dtor",
    # Eigen 3.4's and protobuf's headers trip these inside templates we do not control.
    "-Wno-deprecated-copy",
    "-Wno-maybe-uninitialized",
]

PARSITY_TEST_COPTS = PARSITY_COPTS + [
    # gtest's macros compare signed and unsigned freely.
    "-Wno-sign-compare",
]

def parsity_cc_library(name, copts = [], **kwargs):
    native.cc_library(name = name, copts = PARSITY_COPTS + copts, **kwargs)

def parsity_cc_binary(name, copts = [], **kwargs):
    native.cc_binary(name = name, copts = PARSITY_COPTS + copts, **kwargs)

def parsity_cc_test(name, copts = [], deps = [], **kwargs):
    """A GoogleTest test: links gtest/gmock with their main()."""
    native.cc_test(
        name = name,
        copts = PARSITY_TEST_COPTS + copts,
        deps = deps + ["//third_party/googletest:gtest_main"],
        **kwargs
    )

def parsity_cc_benchmark(name, srcs, deps = [], copts = [], tags = [], smoke_args = [], **kwargs):
    """A Google Benchmark binary `name` (tagged "benchmark", never run by `bazel test`) plus a twin test
    `name + "_smoke"` that runs every benchmark once so that the benchmark cannot rot. `smoke_args` (for example a
    --benchmark_filter) narrow the smoke run where running everything once would take minutes."""
    native.cc_binary(
        name = name,
        srcs = srcs,
        copts = PARSITY_TEST_COPTS + copts,
        deps = deps + ["//third_party/benchmark:benchmark_main"],
        testonly = True,
        tags = tags + ["benchmark"],
        **kwargs
    )
    native.sh_test(
        name = name + "_smoke",
        srcs = ["//tools:run_benchmark_once.sh"],
        args = ["$(location :%s)" % name] + smoke_args,
        data = [":" + name],
        size = "medium",
    )
