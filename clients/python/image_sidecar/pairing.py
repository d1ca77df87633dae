"""Which sidecar files belong to an image: the library's pairing rules (src/discovery/locate.ts),
mirrored for the local read path. The parity tests compare this with the library on every image of
the sample library and the reliability trees.

- Sidecars live next to the image's final symlink target (the chain resolved fully, as
  ``realpath`` does); files next to the link itself are candidates too, after the target's.
- Names, in preference order: ``<stem>.bin``, ``<stem>.rkyv``, ``<stem>.json``, then
  ``<name>.bin``, ``<name>.rkyv``, ``<name>.json`` (``IMG_1.jpg.json``); never the image itself.
- A candidate is an existing regular file (a symlinked sidecar counts when it points at one).
- Names are compared after Unicode NFC: a non-ASCII name is looked up in a listing of the folder.

- A broken chain (it ends at a missing file) has its "target" where the chain points, followed link
  by link as the library's followChain does; sidecars beside that path count, then the link's.

Whatever is unclear — a missing image, a directory, a looping chain, an I/O error — is
:class:`NotLocal`: the library answers it (with its own error or finding).
"""
from __future__ import annotations

import errno
import os
import stat
import threading
import time
import unicodedata
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional, Tuple

from .decode import NotLocal

SIDECAR_EXTS = ("bin", "rkyv", "json")

_S_ISREG = stat.S_ISREG
_MISSING = (FileNotFoundError, NotADirectoryError)


class Candidate(NamedTuple):
    path: str
    ext: str
    naming: str  # "stem" | "name-ext"
    side: str  # "target" | "link"


def split_name(name: str) -> Tuple[str, str]:
    """(stem, lower-case extension) at the last dot; a leading dot is not an extension."""
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return name, ""
    return name[:dot], name[dot + 1:].lower()


def pairs_nothing(name: str) -> bool:
    """A name no rule makes an image (pair.ts, pairGroupOf): no extension (``IMG``, ``.hidden``,
    ``IMG.``) or a sidecar's extension (a link may lead to ``x.json``). No sidecar pairs with it, so
    it has no candidates: the library reads ``{}`` for it (and a save refuses). Sidecar extensions
    are lower case only (``x.JSON`` is an image given explicitly, as to the library)."""
    dot = name.rfind(".")
    return dot <= 0 or dot == len(name) - 1 or name[dot + 1:] in SIDECAR_EXTS


def wanted_names(image_name: str) -> List[Tuple[str, str, str]]:
    """(file name, ext, naming) in preference order, without duplicates or the image's own name."""
    dot = image_name.rfind(".")
    if 0 < dot < len(image_name) - 1:  # the usual case: six distinct names, none the image's own
        stem = image_name[:dot]
        if image_name[dot + 1:].lower() not in SIDECAR_EXTS:
            return [(stem + ".bin", "bin", "stem"), (stem + ".rkyv", "rkyv", "stem"), (stem + ".json", "json", "stem"),
                    (image_name + ".bin", "bin", "name-ext"), (image_name + ".rkyv", "rkyv", "name-ext"),
                    (image_name + ".json", "json", "name-ext")]
    stem = split_name(image_name)[0]
    out: List[Tuple[str, str, str]] = []
    seen = set()
    for naming, base in (("stem", stem), ("name-ext", image_name)):
        for ext in SIDECAR_EXTS:
            name = "%s.%s" % (base, ext)
            if name == image_name or name in seen:
                continue
            seen.add(name)
            out.append((name, ext, naming))
    return out


def _nfc(name: str) -> str:
    return name if name.isascii() else unicodedata.normalize("NFC", name)


def _is_file(path: str) -> bool:
    """A regular file at ``path`` (through links); False when nothing is there. A name that holds
    something else (a folder, a FIFO, a link to nothing) goes to the library: a read that finds no
    sidecar says it cannot read it, never ``{}``."""
    try:
        if _S_ISREG(os.stat(path).st_mode):
            return True
    except _MISSING:
        pass
    except OSError as e:  # a looping link among them
        raise NotLocal("cannot stat %s: %s" % (path, e)) from None
    if os.path.lexists(path):
        raise NotLocal("%s is not a regular file" % path)
    return False


# Folder listings, reused while the folder's inode, mtime and ctime are unchanged: one stat of the
# folder per read instead of a stat per candidate name. Creating, removing or renaming an entry
# changes the folder's mtime and ctime. The mtime alone can be put back (`touch -r`, rsync -t, tools
# that keep folder dates) after another process saved: the listing then hid the new sidecar for the
# life of the process. The ctime cannot be set back (utime itself moves it to now); the index keys
# its folders by it too (src/incremental/dir-cache.ts), and so does src/discovery/locate.ts. A
# listing taken within RACY_NS of the ctime is not reused (a change in the same clock tick would not
# show). Both times come from the one stat the read makes anyway: no cost per read. (Windows reports
# the creation time as st_ctime: there the mtime decides, as before.) Folders above BIG_FOLDER
# entries are not listed (a save loop there would relist on every read): their candidates are
# stat'ed one by one.
BIG_FOLDER = 4096
# Two seconds, as the library's (src/discovery/locate.ts RACY_LISTING_MS): a clock tick of the file
# system (times kept to the second on ext2/3 and HFS+, to two on FAT: a sidecar saved in the same
# tick showed no change, and the listing hid it for good) and the skew between this machine's clock
# and a file server's, which stamps a NAS folder's times.
RACY_NS = 2_000_000_000
_now_ns = time.time_ns  # (tests set the clock here)
_CACHED_FOLDERS = 64


class _Listing(NamedTuple):
    ino: int
    mtime_ns: int
    ctime_ns: int
    names: Optional[Dict[str, List[str]]]  # NFC name -> names on disk; None = too big to list
    prefixes: Optional[Dict[str, int]]  # NFC prefix before a dot -> how many non-sidecar entries start with it


# Files that sit beside photos but are never images (edit sidecars of other programs): they do not
# make a stem shared. Anything else with the image's stem may be an image (the library's set plus a
# configuration file's), and sends the read to the library.
_NOT_IMAGES = frozenset(("xmp", "pp3", "dop", "aae", "on1", "txt"))


def _prefix_counts(names: Dict[str, List[str]]) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for n, on_disk in names.items():
        ext = split_name(n)[1]
        if ext in SIDECAR_EXTS or ext in _NOT_IMAGES or ext == "":
            continue
        i = n.find(".", 1)
        while i > 0:
            k = n[:i]
            out[k] = out.get(k, 0) + len(on_disk)
            i = n.find(".", i + 1)
    return out


_listings: "OrderedDict[str, _Listing]" = OrderedDict()
_listings_lock = threading.Lock()


def _folder_names(directory: str) -> Optional[Dict[str, List[str]]]:
    """NFC name -> on-disk names of the folder's entries, or None (missing folder: {}; too big: None)."""
    try:
        st = os.stat(directory)
    except _MISSING:
        return {}
    except OSError as e:
        raise NotLocal("cannot stat %s: %s" % (directory, e)) from None
    listing = _listing_of(directory, st)
    return None if listing is None else listing.names


def _listing_of(directory: str, st: os.stat_result) -> Optional[_Listing]:
    cached = _listings.get(directory)  # one C call on str keys: atomic under the GIL (writers lock)
    if cached is not None and cached.ino == st.st_ino and cached.mtime_ns == st.st_mtime_ns and cached.ctime_ns == st.st_ctime_ns:
        return cached
    if st.st_nlink > BIG_FOLDER + 2 and cached is not None and cached.names is None:
        return cached
    try:
        with os.scandir(directory) as it:
            entries = []
            for e in it:
                entries.append(e.name)
                if len(entries) > BIG_FOLDER:
                    break
    except _MISSING:
        return _Listing(0, 0, 0, {}, {})
    except OSError as e:
        raise NotLocal("cannot list %s: %s" % (directory, e)) from None
    names: Optional[Dict[str, List[str]]] = None
    prefixes: Optional[Dict[str, int]] = None
    if len(entries) <= BIG_FOLDER:
        names = {}
        for n in entries:
            names.setdefault(_nfc(n), []).append(n)
        prefixes = _prefix_counts(names)
    listing = _Listing(st.st_ino, st.st_mtime_ns, st.st_ctime_ns, names, prefixes)
    if _now_ns() - max(st.st_ctime_ns, st.st_mtime_ns) > RACY_NS:
        with _listings_lock:
            _listings[directory] = listing
            _listings.move_to_end(directory)
            while len(_listings) > _CACHED_FOLDERS:
                _listings.popitem(last=False)
    return listing


def _shares_names(directory: str, image_name: str) -> bool:
    """May another image of the folder claim this image's sidecars (IMG_1.CR2 beside IMG_1.jpg)?
    Then which file is whose depends on what the files record (docs/PAIRING.md §3): the library
    answers. True also when the folder is too big to list here."""
    try:
        st = os.stat(directory)
    except _MISSING:
        return False
    except OSError as e:
        raise NotLocal("cannot stat %s: %s" % (directory, e)) from None
    listing = _listing_of(directory, st)
    if listing is None or listing.prefixes is None:
        return True
    name = _nfc(image_name)
    stem = split_name(name)[0]
    own = 1 if split_name(name)[1] not in _NOT_IMAGES else 0
    if listing.prefixes.get(stem, 0) > own or listing.prefixes.get(name, 0) > 0:
        return True
    # An image whose whole name is this image's stem (A.jpg beside A.jpg.png) claims A.jpg.json by
    # its name-ext form: the stem files are shared with it.
    ext = split_name(stem)[1]
    return ext != "" and ext not in SIDECAR_EXTS and ext not in _NOT_IMAGES and stem in listing.names


def _find(directory: str, image_name: str, side: str, out: List[Candidate]) -> None:
    if pairs_nothing(image_name):
        return
    before = len(out)
    _find_names(directory, image_name, side, out)
    if len(out) > before and _shares_names(directory, image_name):
        raise NotLocal("another image shares this image's stem: which sidecar is whose is the library's answer")


def _find_names(directory: str, image_name: str, side: str, out: List[Candidate]) -> None:
    wanted = wanted_names(image_name)
    names = _folder_names(directory)
    if names is not None:
        # Presence from the listing; what each entry is (file, directory, FIFO, dangling link) is
        # checked when it is read: anything but one regular file goes to the library. The wanted
        # names are in preference order; several entries with one NFC name in on-disk name order.
        get = names.get
        nfc = not image_name.isascii()  # an ASCII name is its own NFC form
        prefix = os.path.join(directory, "")  # + a plain name: os.path.join(directory, name)
        for name, ext, naming in wanted:
            hits = get(_nfc(name) if nfc else name)
            if hits:
                for on_disk in (sorted(hits, key=_code_units) if len(hits) > 1 else hits):
                    out.append(Candidate(prefix + on_disk, ext, naming, side))
        return
    if image_name.isascii():
        if _may_have_nfc_twin(image_name):
            # Its other spellings (U+212A for K...) need a listing, which a folder this big does not
            # keep here: the library answers from its own.
            raise NotLocal("an ASCII name another spelling may equal, in a folder too big to list")
        for name, ext, naming in wanted:
            p = os.path.join(directory, name)
            if _is_file(p):
                out.append(Candidate(p, ext, naming, side))
        return
    try:
        entries = os.listdir(directory)
    except _MISSING:
        return
    except OSError as e:
        raise NotLocal("cannot list %s: %s" % (directory, e)) from None
    index = {_nfc(w[0]): i for i, w in enumerate(wanted)}
    found = []
    for entry in entries:
        i = index.get(_nfc(entry))
        if i is not None and _is_file(os.path.join(directory, entry)):
            found.append((i, entry))
    found.sort(key=lambda f: (f[0], _code_units(f[1])))
    for i, entry in found:
        out.append(Candidate(os.path.join(directory, entry), wanted[i][1], wanted[i][2], side))


def _may_have_nfc_twin(name: str) -> bool:
    """May another spelling equal ``name`` after NFC (src/discovery/locate.ts mayHaveNfcTwin)? Any
    non-ASCII name; an ASCII one only through the three characters whose NFC is ASCII: U+212A KELVIN
    SIGN (K), U+037E GREEK QUESTION MARK (;), U+1FEF GREEK VARIA (`)."""
    return not name.isascii() or "K" in name or ";" in name or "`" in name


def _code_units(name: str) -> bytes:
    """Sort key: the library orders names by UTF-16 code unit (JavaScript's comparison), which differs
    from code point order beyond U+FFFF (U+2F8B1 before U+F90D)."""
    return name.encode("utf-16-be", "surrogatepass")


CONFIG_FILE_NAME = ".image-sidecar.json"


def _config_applies(directory: str) -> bool:
    """A configuration file at or above the folder (src/discovery/config.ts findConfigFile): its image
    extensions change which files are images, and a malformed one is the library's USAGE error."""
    d = directory
    while True:
        p = os.path.join(d, CONFIG_FILE_NAME)
        if os.access(p, os.F_OK):  # no exception when absent (most folders): half the cost of a failing stat
            try:
                if not stat.S_ISDIR(os.stat(p).st_mode):
                    return True
            except (FileNotFoundError, NotADirectoryError):
                pass
            except (OSError, ValueError):
                return True  # there, but not to be stat'ed: the library says why
        up = os.path.dirname(d)
        if up == d:
            return False
        d = up


def _lstat_image(path: str) -> Tuple[str, bool]:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        name = os.path.basename(path)
        if _may_have_nfc_twin(name):
            directory = os.path.dirname(path)
            want = _nfc(name)
            try:
                names = os.listdir(directory)
            except OSError:
                names = []
            for n in names:
                if n != name and _nfc(n) == want:
                    return _lstat_image(os.path.join(directory, n))
        raise NotLocal("image does not exist") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path (the client refuses it first: USAGE)
        raise NotLocal("cannot stat the image: %s" % e) from None
    if stat.S_ISDIR(st.st_mode):
        raise NotLocal("a directory, not an image")
    return path, stat.S_ISLNK(st.st_mode)


# The library's bound on a chain it follows link by link (src/discovery/locate.ts MAX_LINKS).
MAX_LINKS = 40


def _resolve(directory: str, text: str) -> str:
    """Node's path.resolve(directory, text) for an absolute ``directory``: lexical, like normpath,
    except that POSIX normpath keeps a leading ``//`` and Node does not."""
    p = os.path.normpath(os.path.join(directory, text))
    return "/" + p.lstrip("/") if p.startswith("//") else p


def _chain_end(first: str) -> str:
    """Where a broken chain points: the library's followChain (locate.ts), link by link, to the
    first path that is missing (ENOENT, ENOTDIR) or not a link. A chain longer than MAX_LINKS is
    a loop to the library (no target side): that, and any other error, is :class:`NotLocal`."""
    cur = first
    for _ in range(MAX_LINKS):
        try:
            st = os.lstat(cur)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                return cur
            raise NotLocal("cannot follow the symlink chain: %s" % e) from None
        if not stat.S_ISLNK(st.st_mode):
            return cur
        try:
            text = os.readlink(cur)
        except OSError as e:
            raise NotLocal("cannot read a link of the chain: %s" % e) from None
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:  # Node reads such a link as U+FFFD: another path than ours
                raise NotLocal("a link whose target is not valid UTF-8") from None
        cur = _resolve(os.path.dirname(cur), text)
    raise NotLocal("a symlink chain longer than %d links" % MAX_LINKS)


_O_PATH = getattr(os, "O_PATH", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FD_LINK = "/proc/self/fd/%d"


def _final_target(image: str) -> Optional[str]:
    """realpath(image) for a symlink whose chain ends at an existing file: _resolve_target's path."""
    resolved = _resolve_target(image)
    return None if resolved is None else resolved[0]


def _resolve_target(image: str) -> Optional[Tuple[str, bool]]:
    """(realpath(image), whether it is a folder) for a symlink whose chain ends at an existing
    file or folder; None for a broken chain
    (ENOENT, ENOTDIR); :class:`NotLocal` for a loop or an I/O error (the library answers those).

    Where the kernel names open files (Linux /proc), the target is the name of an O_PATH descriptor
    of the image: the kernel's own resolution in a few syscalls (~9 µs here), where
    ``os.path.realpath`` lstat()s every component (~26-41 µs). The name is used only when it is
    absolute and leads back to the very file the descriptor holds (same device and inode: a
    deleted file's "... (deleted)" or an "(unreachable)/..." name does not); otherwise
    ``os.path.realpath`` decides, as it always did.
    """
    if _O_PATH:
        try:
            fd = os.open(image, _O_PATH | _O_CLOEXEC)  # follows the whole chain, as the library's realpath does
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise NotLocal("looping or unreadable symlink chain: %s" % e) from None
        try:
            named = os.readlink(_FD_LINK % fd)
            held = os.fstat(fd)
            found = os.stat(named)
        except OSError:
            named = ""
        finally:
            os.close(fd)
        if named[:1] == "/" and found.st_ino == held.st_ino and found.st_dev == held.st_dev:
            return named, stat.S_ISDIR(held.st_mode)
    return _realpath_target(image)


def _realpath_target(image: str) -> Optional[Tuple[str, bool]]:
    """_final_target through ``os.path.realpath`` (no /proc, or a name that did not lead back)."""
    try:
        os.stat(image)  # the kernel follows the whole chain, as the library's realpath does
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.ENOTDIR):  # ELOOP, I/O errors: the library answers
            raise NotLocal("looping or unreadable symlink chain: %s" % e) from None
        return None
    try:
        target = os.path.realpath(image)
        st = os.stat(target)
    except OSError as e:
        raise NotLocal("symlink chain changed while resolving: %s" % e) from None
    if os.path.islink(target):  # realpath gave up (a loop): the library reports it
        raise NotLocal("looping symlink chain")
    return target, stat.S_ISDIR(st.st_mode)


def locate_candidates(image_path: str) -> List[Candidate]:
    """The existing sidecar files of an image in the library's preference order."""
    if ".." in image_path.split(os.sep):
        # abspath would collapse it as text (another image, after a symlinked folder): the library
        # takes it as the kernel does.
        raise NotLocal("a path with '..'")
    given = os.path.abspath(image_path)
    ext = split_name(os.path.basename(given))[1]
    if ext in SIDECAR_EXTS:
        raise NotLocal("a sidecar's path given as an image")
    if ext in _NOT_IMAGES:
        # Given explicitly it counts as an image (docs/PAIRING.md section 1), and so do the folder's
        # files of its type: they share its stem, which the listing here does not count.
        raise NotLocal("an image of a type that is otherwise never one")
    if _config_applies(os.path.dirname(given)):
        raise NotLocal("a configuration file applies (its image extensions)")
    image, is_link = _lstat_image(given)
    if not is_link:
        out: List[Candidate] = []
        _find(os.path.dirname(image), os.path.basename(image), "target", out)
        return out
    resolved = _resolve_target(image)
    target = _chain_end(image) if resolved is None else resolved[0]  # broken: sidecars may still lie beside where it points
    if not target.isascii():
        try:
            target.encode("utf-8")
        except UnicodeEncodeError:  # Node names it with U+FFFD: another path than ours
            raise NotLocal("a link whose target is not valid UTF-8") from None
    out = []
    t_dir, t_name = os.path.dirname(target), os.path.basename(target)
    if resolved is None or not resolved[1]:  # a folder is never an image (pair.ts): nothing pairs with it there
        _find(t_dir, t_name, "target", out)
    l_dir, l_name = os.path.dirname(image), os.path.basename(image)
    if l_dir != t_dir or l_name != t_name:
        link_side: List[Candidate] = []
        _find(l_dir, l_name, "link", link_side)
        have = {c.path for c in out}
        out.extend(c for c in link_side if c.path not in have)
    return out
