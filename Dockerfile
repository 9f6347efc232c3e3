# Build: a static binary (pure Go, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# -tags noplayground leaves out `releasebot playground` (its Slack simulator and
# page, about 0.4 MB), which a deployment never runs. The image must stay
# under 25 MB: third-party packages, crypto and math/big are compiled without
# inlining (-l), which saves 1.3 MB; releasebot's own packages and the rest
# of the standard library (runtime, net/http, encoding/json) keep it.
RUN CGO_ENABLED=0 go build -tags noplayground -trimpath -ldflags="-s -w" \
      -gcflags='all=-l' -gcflags='std=' -gcflags='crypto/...=-l' -gcflags='math/big=-l' \
      -gcflags='github.com/releasebot/...=' -o /out/releasebot . \
 && mkdir -p /out/data /out/tmp

# Run: scratch with only the CA certificates, as user 65532; no shell, no
# package manager. (distroless/static would add about 2 MB of tzdata and
# passwd files that a static, UTC-logging binary does not need, and the
# image must stay under 25 MB.)
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/releasebot /releasebot
# /data holds the SQLite database (RELEASEBOT_DATABASE_URL below); point that
# at PostgreSQL to run several replicas. The image has no shell to mkdir/chown at run time,
# so the directory comes from the build stage already owned by the nonroot
# user; a new named volume starts with that ownership. A bind mount must be
# writable by 65532 on the host.
COPY --from=build --chown=65532:65532 /out/data /data
# SQLite may want a temporary directory.
COPY --from=build --chown=65532:65532 /out/tmp /tmp
ENV RELEASEBOT_DATABASE_URL=sqlite:/data/releasebot.db
VOLUME /data
USER 65532:65532
# RELEASEBOT_HTTP_ADDR (default :8080): /healthz, /readyz, /metrics.
EXPOSE 8080
ENTRYPOINT ["/releasebot"]
