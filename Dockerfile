# codeterm in a container: docker build -t codeterm . (see docs/OPERATIONS.md).
# Build stage: a static binary (pure-Go SQLite, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=container
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/codeterm ./cmd/server

# Runtime: what users' shells and workspaces need, nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client bash ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/codeterm /usr/bin/codeterm
# Inside the container the server listens on every address so that ports can
# be published; publish them on the host's loopback (docker run -p
# 127.0.0.1:8080:8080) behind a TLS proxy, or set CODETERM_HTTP_TLS_CERT/KEY.
ENV CODETERM_DATA_DIR=/data \
    CODETERM_HTTP_ADDR=0.0.0.0:8080 \
    CODETERM_SSH_ADDR=0.0.0.0:2222
VOLUME /data
EXPOSE 8080 2222
ENTRYPOINT ["/usr/bin/codeterm"]
CMD ["serve"]
