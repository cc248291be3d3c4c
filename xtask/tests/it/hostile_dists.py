"""Hostile variants of a built sdist and wheel, for the tests (`hostile_archives.rs`)
and the benchmark (`cargo xtask bench inspect`) of the archive inspection.

    python hostile_dists.py CASE DIR
    python hostile_dists.py --rules DIR

DIR holds one `*.tar.gz` and one `*.whl` of a real build; CASE rewrites one of them
in place the way an attacker who controls the build job could (the manifest is the
caller's business), and prints the name of the file it wrote. The cases here are
the classes of issue 22; `hostile_rules.py` has one archive per rule of the strict
reading (`--rules` lists them), `hostile_bench.py` the benchmark's worst inputs, and
`hostile_build.py` the writers, which write byte by byte where Python's own writers
would refuse the trick. Standard library only.
"""

import gzip
import os
import sys

from hostile_bench import BENCH
from hostile_build import (
    MIB, RawZip, dist_info, member_blocks, pax, read_tar, read_zip, sdist_blocks, tar_header, top, with_record,
    write_sdist, write_wheel, zeros_deflate,
)
from hostile_rules import RULES


# The cases: each takes the sdist and wheel paths and returns the one it wrote.

def decoy_metadata(sdist, wheel):
    # twine reads the member named *METADATA* with the fewest path parts.
    members = read_zip(wheel)
    real = dict(members)[dist_info(members) + "/METADATA"]
    decoy = real.replace(b"\nName: yamause\n", b"\nName: yamause-decoy\n").replace(b"\nVersion: 1.0.0\n", b"\nVersion: 9.9.9\n")
    members.append(("METADATA", decoy))
    write_wheel(wheel, with_record(members))
    return wheel


def metadata_twice(sdist, wheel):
    members = read_zip(wheel)
    meta = dist_info(members) + "/METADATA"
    real = dict(members)[meta]
    first = real.replace(b"\nVersion: 1.0.0\n", b"\nVersion: 9.9.9\n")
    members = with_record(members)
    members.insert(0, (meta, first))
    write_wheel(wheel, members)
    return wheel


def unhashed_traversal(sdist, wheel):
    # The central directory says `yamause/zzz.py`, the local header `../../zz.py`
    # (as long), and RECORD lists it without a hash.
    members = read_zip(wheel) + [("yamause/zzz.py", b"print('outside')\n")]
    members = with_record(members, unhashed={"yamause/zzz.py"})
    write_wheel(wheel, members, **{"yamause/zzz.py": {"local_name": "../../zz.py"}})
    return wheel


def foreign_dist_info(sdist, wheel):
    members = read_zip(wheel)
    old = dist_info(members)
    new = "decoy-" + old.split("-", 1)[1]
    members = [(name.replace(old + "/", new + "/", 1), data) for name, data in members]
    write_wheel(wheel, with_record(members))
    return wheel


def two_versions(sdist, wheel):
    members = read_zip(wheel)
    meta = dist_info(members) + "/METADATA"
    members = [(n, d.replace(b"\nVersion: 1.0.0\n", b"\nVersion: 1.0.0\nVersion: 9.9.9\n") if n == meta else d)
               for n, d in members]
    write_wheel(wheel, with_record(members))
    return wheel


def declared_bomb(sdist, wheel):
    # 1.5 GiB of zeros in about 1.5 MiB, its sizes declared honestly and its
    # RECORD row right.
    members = read_zip(wheel)
    packed, crc, digest = zeros_deflate(1536)
    record = dist_info(members) + "/RECORD"
    members = [(n, d + f"yamause/zeros.bin,sha256={digest},{1536 * MIB}\n".encode() if n == record else d)
               for n, d in with_record(members)]
    raw = RawZip()
    for name, data in members:
        raw.add(name, data)
    raw.add_raw("yamause/zeros.bin", packed, crc, 1536 * MIB)
    raw.write(wheel)
    return wheel


def pax_size(sdist, wheel):
    # The ustar header says 0 bytes; the PAX record says 1024, which covers a whole
    # nested member that a reader ignoring the record sees.
    members = read_tar(sdist)
    nested = member_blocks(top(members) + "/nested.py", b"print('hidden')\n")
    blocks = sdist_blocks(members)
    blocks += pax({"size": len(nested)}) + tar_header(top(members) + "/cover.txt", 0) + nested
    write_sdist(sdist, blocks)
    return sdist


def pax_dotdot(sdist, wheel):
    members = read_tar(sdist)
    name = top(members) + "/ok.txt"
    blocks = sdist_blocks(members) + pax({"path": "../../escape.txt"}) + member_blocks(name, b"x\n")
    write_sdist(sdist, blocks)
    return sdist


def absolute_member(sdist, wheel):
    members = read_tar(sdist)
    write_sdist(sdist, sdist_blocks(members) + member_blocks("/tmp/yamause-absolute.txt", b"x\n"))
    return sdist


def ratio_bomb(sdist, wheel):
    # 200 MiB of zeros: under the size of one member, far over the ratio.
    members = read_tar(sdist)
    blocks = sdist_blocks(members) + tar_header(top(members) + "/zeros.bin", 200 * MIB)
    with open(sdist, "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as gz:
            gz.write(blocks)
            zero = b"\0" * MIB
            for _ in range(200):
                gz.write(zero)
            gz.write(b"\0" * 10240)
    return sdist


CASES = {
    "decoy-metadata": decoy_metadata,
    "metadata-twice": metadata_twice,
    "unhashed-traversal": unhashed_traversal,
    "foreign-dist-info": foreign_dist_info,
    "two-versions": two_versions,
    "declared-bomb": declared_bomb,
    "pax-size": pax_size,
    "pax-dotdot": pax_dotdot,
    "absolute-member": absolute_member,
    "ratio-bomb": ratio_bomb,
}


def main():
    case, folder = sys.argv[1], sys.argv[2]
    names = os.listdir(folder)
    sdist = os.path.join(folder, next(n for n in names if n.endswith(".tar.gz")))
    wheel = os.path.join(folder, next(n for n in names if n.endswith(".whl")))
    if case == "--rules":
        print("\n".join(RULES))
        return
    written = {**CASES, **RULES, **BENCH}[case](sdist, wheel)
    written = written[0] if isinstance(written, tuple) else written
    print(os.path.basename(written))


if __name__ == "__main__":
    main()
