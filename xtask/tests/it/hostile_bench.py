"""The worst inputs of each kind, for `cargo xtask bench inspect`: at the limits of
`xtask/src/release/verify/strict_archive.py` (accepted, the most work), or far past them (refused,
as late as the limits allow). Used through `hostile_dists.py`.
"""

import gzip
import io
import os
import struct
import tarfile
import zlib

from hostile_build import (
    MIB, dist_info, member_blocks, read_tar, read_zip, sdist_blocks, tar_header, top, with_record, write_wheel,
    zeros_deflate,
)

def random_bytes(n):
    return os.urandom(n)


def bench_largest(sdist, wheel):
    # Files at the size limits: about 250 MiB of random bytes in each archive,
    # stored (nothing to gain by compression).
    blob = random_bytes(250 * MIB)
    members = read_zip(wheel) + [("yamause/blob.bin", blob)]
    write_wheel(wheel, with_record(members), **{"yamause/blob.bin": {"method": 0}})
    members = read_tar(sdist)
    with open(sdist, "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=0) as gz:
            gz.write(sdist_blocks(members) + member_blocks(top(members) + "/blob.bin", blob) + b"\0" * 10240)
    return wheel


def bench_zip_ratio(sdist, wheel):
    # Twice 250 MiB of zeros and 5 MiB of noise in 6 MiB: just inside the ratio,
    # the total and the size of one member, so all of it is unpacked and hashed.
    members = read_zip(wheel) + [("yamause/noise.bin", random_bytes(5 * MIB))]
    packed, crc, digest = zeros_deflate(250)
    record = dist_info(members) + "/RECORD"
    rows = "".join(f"yamause/zeros{i}.bin,sha256={digest},{250 * MIB}\n" for i in (1, 2)).encode()
    members = [(n, d + rows if n == record else d) for n, d in with_record(members)]
    raw = write_wheel(wheel, members, **{"yamause/noise.bin": {"method": 0}})
    for i in (1, 2):
        raw.add_raw(f"yamause/zeros{i}.bin", packed, crc, 250 * MIB)
    raw.write(wheel)
    return wheel


def bench_gzip_bomb(sdist, wheel):
    # 5 MB of gzip that would unpack to 5 GiB of zeros behind a member that
    # declares 256 MiB: refused once the ratio (or the total) is passed, at about
    # 512 MiB. Its CRC is never reached.
    members = read_tar(sdist)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(sdist_blocks(members) + tar_header(top(members) + "/zeros.bin", 256 * MIB))
    head += comp.flush(zlib.Z_FULL_FLUSH)
    zeros = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = zeros.compress(b"\0" * MIB) + zeros.flush(zlib.Z_FULL_FLUSH)
    with open(sdist, "wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + head)
        for _ in range(5120):
            out.write(block)
        out.write(b"\x03\x00" + struct.pack("<II", 0, 0))
    return sdist


def nested_name(i):
    # About 260 bytes, 22 folders deep, every one distinct below the first levels.
    digits = f"{i:05d}"
    return "yamause/" + "/".join(f"level{d}{k:04d}" for k, d in enumerate(digits * 4 + "00")) + f"/m{digits}.py"


def bench_many_zip(sdist, wheel):
    # 20,000 members (the limit) with long, deep names: the central directory and
    # RECORD at their largest.
    members = read_zip(wheel) + [(nested_name(i), b"x\n") for i in range(20_000 - 6)]
    write_wheel(wheel, with_record(members))
    return wheel


def bench_many_tar(sdist, wheel):
    # 20,000 members (the limit) with long, deep names, each behind a PAX header.
    members = read_tar(sdist)
    with tarfile.open(sdist, "w:gz", format=tarfile.PAX_FORMAT) as out:
        for m, data in members:
            out.addfile(m, io.BytesIO(data))
        for i in range(20_000 - len(members)):
            info = tarfile.TarInfo(top(members) + "/" + nested_name(i))
            info.size = 2
            out.addfile(info, io.BytesIO(b"x\n"))
    return sdist


def bench_too_many(sdist, wheel):
    members = read_zip(wheel) + [(f"yamause/m{i}.py", b"") for i in range(20_001)]
    write_wheel(wheel, with_record(members))
    return wheel


BENCH = {
    "bench-largest": bench_largest,
    "bench-zip-ratio": bench_zip_ratio,
    "bench-gzip-bomb": bench_gzip_bomb,
    "bench-many-zip": bench_many_zip,
    "bench-many-tar": bench_many_tar,
    "bench-too-many": bench_too_many,
}
