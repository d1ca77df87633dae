"""The plain Python loop a pipeline writes to collect face embeddings (issue 62's comparison):
json.load every listed sidecar, walk its face results (flat or one backend down), keep each
512-float encoding with its row (image, sidecar, operation, backend, face, bbox, confidence),
then one float32 matrix (NumPy when installed, else array('f')). Corrupt files are skipped.

    python3 bench/python_embeddings.py LISTFILE      # LISTFILE: NUL- or newline-separated paths

Prints one JSON line: {"ms", "cpu_ms", "rows", "files", "numpy"} (the loop only: start-up excluded).
"""
import json
import sys
import time


def faces_of(value):
    if not isinstance(value, dict):
        return
    if isinstance(value.get("faces"), list):
        yield None, value
        return
    for backend, node in value.items():
        if isinstance(node, dict) and isinstance(node.get("faces"), list):
            yield backend, node


def main():
    raw = open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape")
    paths = [p for p in raw.replace("\0", "\n").split("\n") if p]
    t0 = time.perf_counter()
    c0 = time.process_time()
    vectors = []
    rows = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (ValueError, OSError):
            continue
        if not isinstance(doc, dict):
            continue
        for op in ("face_detection", "Face_detector"):
            for backend, node in faces_of(doc.get(op)):
                for i, face in enumerate(node["faces"]):
                    enc = face.get("encoding") if isinstance(face, dict) else None
                    if isinstance(enc, list) and len(enc) == 512:
                        vectors.append(enc)
                        rows.append({"sidecar": path, "operation": op, "backend": backend, "face": i, "bbox": face.get("bbox"), "confidence": face.get("confidence")})
    try:
        import numpy
        matrix = numpy.array(vectors, dtype=numpy.float32)
        has_numpy = True
    except ImportError:
        from array import array
        matrix = array("f", [x for v in vectors for x in v])
        has_numpy = False
    ms = (time.perf_counter() - t0) * 1000
    cpu = (time.process_time() - c0) * 1000
    print(json.dumps({"ms": ms, "cpu_ms": cpu, "rows": len(rows), "files": len(paths), "numpy": has_numpy, "size": len(matrix)}))


if __name__ == "__main__":
    main()
