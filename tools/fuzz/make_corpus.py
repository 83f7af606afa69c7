#!/usr/bin/env python3
"""Writes the seed corpora of the data-reader fuzz targets (tools/fuzz/corpus/*_reader_fuzzer/): a few small valid
and invalid IDX, gzip and CIFAR-10 inputs. The study config and trial record seeds are copies of real files (see
README.md). Deterministic: running it again rewrites the same bytes.

    python3 tools/fuzz/make_corpus.py
"""

import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def gzip_bytes(data, level=6):
    # mtime 0 and no file name, so the output is deterministic.
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + 15)
    return compressor.compress(data) + compressor.flush()


def idx(magic, dimensions, data):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dimensions) + bytes(data)


def cifar(labels):
    records = b""
    for i, label in enumerate(labels):
        records += bytes([label]) + bytes((i * 37 + j * 11) % 256 for j in range(3072))
    return records


def write(target, name, data):
    directory = os.path.join(ROOT, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    images = idx(0x803, [2, 2, 3], [0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112])
    labels = idx(0x801, [3], [7, 0, 9])
    write("idx_reader_fuzzer", "images", images)
    write("idx_reader_fuzzer", "images.gz", gzip_bytes(images))
    write("idx_reader_fuzzer", "labels", labels)
    write("idx_reader_fuzzer", "labels.gz", gzip_bytes(labels))
    write("idx_reader_fuzzer", "images_truncated", images[:20])
    write("idx_reader_fuzzer", "images_long.gz", gzip_bytes(images + b"xy"))
    write("idx_reader_fuzzer", "labels_bomb.gz", gzip_bytes(idx(0x801, [4], [])) + gzip_bytes(bytes(1 << 16), 9))
    write("idx_reader_fuzzer", "header_huge", idx(0x803, [0xFFFFFFFF, 65536, 65536], [1, 2, 3]))
    write("idx_reader_fuzzer", "wrong_magic", b"GIF89a")

    text = b"parsity fuzz seed: some text, some text, some text\n"
    write("gzip_reader_fuzzer", "text.gz", gzip_bytes(text))
    write("gzip_reader_fuzzer", "stored.gz", gzip_bytes(text, 0))
    write("gzip_reader_fuzzer", "empty.gz", gzip_bytes(b""))
    write("gzip_reader_fuzzer", "members.gz", gzip_bytes(b"first ") + gzip_bytes(b"second"))
    write("gzip_reader_fuzzer", "truncated.gz", gzip_bytes(text)[:-5])
    corrupt = bytearray(gzip_bytes(text))
    corrupt[-6] ^= 1  # CRC-32
    write("gzip_reader_fuzzer", "bad_crc.gz", bytes(corrupt))
    write("gzip_reader_fuzzer", "trailing.gz", gzip_bytes(text) + b"junk")
    write("gzip_reader_fuzzer", "zeros.gz", gzip_bytes(bytes(1 << 16), 9))
    write("gzip_reader_fuzzer", "raw", text)

    write("cifar_reader_fuzzer", "one_record.bin", cifar([3]))
    write("cifar_reader_fuzzer", "two_records.bin.gz", gzip_bytes(cifar([1, 9])))
    write("cifar_reader_fuzzer", "bad_label.bin.gz", gzip_bytes(cifar([1, 10])))
    write("cifar_reader_fuzzer", "truncated.bin", cifar([2])[:3000])
    write("cifar_reader_fuzzer", "zeros.bin.gz", gzip_bytes(bytes(3073 * 4), 9))
    write("cifar_reader_fuzzer", "empty.bin", b"")


if __name__ == "__main__":
    main()
