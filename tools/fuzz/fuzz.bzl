"""parsity_fuzzer: a fuzz target and the test that replays its corpus and saved crashes. See README.md."""

load("//tools:build_defs.bzl", "PARSITY_COPTS")

def parsity_fuzzer(name, srcs, deps = [], size = "small"):
    """A fuzz target `name` (a cc_binary; its sources define LLVMFuzzerTestOneInput) and `name + "_replay_test"`.

    By default (GCC, `bazel test //...`) both link :fuzz_replay_main, which runs the target once on every file of
    corpus/<name>/ and crashes/<name>/. With --config=fuzz (clang, .bazelrc) they link libFuzzer's main instead: the
    binary fuzzes, and the test runs the same files under AddressSanitizer (-runs=0).
    """
    corpus = "corpus/" + name
    crashes = "crashes/" + name
    if not native.glob([corpus + "/**"]):
        fail("parsity_fuzzer %s: %s/ holds no seed inputs" % (name, corpus))
    has_crashes = len(native.glob([crashes + "/**"], allow_empty = True)) > 0
    directories = [corpus] + ([crashes] if has_crashes else [])
    main = select({
        "//tools/fuzz:libfuzzer": [],
        "//conditions:default": ["//tools/fuzz:fuzz_replay_main"],
    })
    fuzzer_linkopts = select({
        "//tools/fuzz:libfuzzer": ["-fsanitize=fuzzer"],
        "//conditions:default": [],
    })
    common = dict(
        srcs = srcs,
        copts = PARSITY_COPTS,
        deps = deps + ["//tools/fuzz:fuzz_check"] + main,
        linkopts = fuzzer_linkopts,
    )
    native.cc_binary(name = name, testonly = True, **common)
    native.cc_test(
        name = name + "_replay_test",
        size = size,
        args = ["-runs=0"] + ["%s/%s" % (native.package_name(), d) for d in directories],
        data = native.glob([d + "/**" for d in directories]),
        **common
    )

def parsity_unfixed_crashes_test(name, targets):
    """A test that every file of crashes/unfixed/<target>/ still makes fuzz target <target> fail (see README.md)."""
    args = []
    data = []
    for target in targets:
        inputs = native.glob(["crashes/unfixed/%s/*" % target], allow_empty = True)
        if inputs:
            args += ["$(rootpath :%s)" % target, "%s/crashes/unfixed/%s" % (native.package_name(), target)]
            data += [":" + target] + inputs
    if not args:
        return
    native.sh_test(
        name = name,
        size = "small",
        srcs = ["unfixed_crashes_test.sh"],
        args = args,
        data = data,
    )
