# statkit in a container: `statkit serve` with the sample configuration,
# listening on every interface of the container. docs/install.md has the
# commands (build, run, what to mount); crates/statkit-cli/tests/cli/
# packaging.rs checks this file against the binary (no image is built
# there: the test machines have no container engine).

# The locked dependencies need a newer Rust than statkit's MSRV; the
# builder's Debian release is the runtime's, so the binary finds its glibc.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
# No debug info in the image (the release profile keeps some for profilers).
ENV CARGO_PROFILE_RELEASE_DEBUG=0
# The same command as a source install (docs/install.md), into /out/bin.
RUN cargo install --locked --path crates/statkit-cli --root /out

FROM debian:bookworm-slim
# A user of its own: the server needs no privilege (every port is above
# 1024), and /var/lib/statkit holds the history if [state] file is set there.
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/statkit \
        --create-home --shell /usr/sbin/nologin statkit
COPY --from=builder /out/bin/statkit /usr/local/bin/statkit
COPY packaging/statkit.toml /etc/statkit/statkit.toml
# Settings from the environment win over the file: outside connections
# reach the listeners only on 0.0.0.0. The admin port still lets only
# loopback clients (inside the container) change the server
# (admin.changes); `docker run -e STATKIT_...` changes any setting.
ENV STATKIT_STATSD=0.0.0.0:8125 \
    STATKIT_ADMIN_LISTEN=0.0.0.0:8126 \
    STATKIT_HTTP_LISTEN=0.0.0.0:8127
USER statkit
WORKDIR /var/lib/statkit
# statsd (UDP and TCP), the admin port, HTTP (dashboard, /metrics, API).
EXPOSE 8125/udp 8125/tcp 8126/tcp 8127/tcp
# SIGTERM: a final flush to every sink, then exit.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/statkit"]
CMD ["serve", "--config", "/etc/statkit/statkit.toml"]
