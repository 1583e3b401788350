# keyward in a container: one static binary on a distroless base.
#   docker build -t keyward .
#   docker run -p 7070:7070 -p 8080:8080 -v keyward-data:/data keyward
# A cluster: deploy/compose.yaml.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /keyward ./cmd/keyward

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /keyward /keyward
VOLUME /data
EXPOSE 7070 8080
# Listening beyond loopback needs TLS, or --allow-plaintext behind a
# proxy that terminates it (README, "TLS").
ENTRYPOINT ["/keyward", "server", "--data-dir", "/data", "--admin-addr", "0.0.0.0:7070", "--gateway-addr", "0.0.0.0:8080"]
