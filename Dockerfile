# Build: a static binary (pure Go, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/releasebot . \
 && mkdir -p /out/data

# Run: distroless static, non-root (65532:65532), with CA certificates and
# tzdata, and no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/releasebot /releasebot
# /data holds the SQLite database (RELEASEBOT_DATABASE_URL below); point that
# at PostgreSQL to run several replicas. Distroless has no shell to mkdir/chown at run time,
# so the directory comes from the build stage already owned by the nonroot
# user; a new named volume starts with that ownership. A bind mount must be
# writable by 65532 on the host.
COPY --from=build --chown=65532:65532 /out/data /data
ENV RELEASEBOT_DATABASE_URL=sqlite:/data/releasebot.db
VOLUME /data
USER 65532:65532
# RELEASEBOT_HTTP_ADDR (default :8080) is reserved for health, readiness and
# metrics (not served yet, see README).
EXPOSE 8080
ENTRYPOINT ["/releasebot"]
