# The sidecar processing service of the earlier tool's implementation guide, with the standalone
# executable: no Node.js, no Rust toolchain in the image. Build the executable first:
#   npm ci && npm run build:exe
#   docker build -t image-sidecar .        (or: buildah bud --isolation chroot -t image-sidecar .)
FROM debian:bookworm-slim

COPY dist/exe/image-sidecar /usr/local/bin/image-sidecar
# The earlier tool's names (findings exit 0 under them, as it did), and its non-root user.
RUN ln -s image-sidecar /usr/local/bin/image-sidecar-rust \
 && ln -s image-sidecar /usr/local/bin/sportball-sidecar-rust \
 && useradd -m -u 1000 sidecar
USER sidecar

WORKDIR /data

# Healthy when the executable starts and answers (doctor: version, engine, WebAssembly modules).
HEALTHCHECK --interval=60s --timeout=20s --retries=3 CMD ["image-sidecar", "doctor", "--json"]

CMD ["sportball-sidecar-rust", "--help"]
