# mlnetpol admission webhook image.
#   docker build -t ghcr.io/mlnetpol/mlnetpol:0.1.0 .
# Build stage: the same set-up and build scripts as CI (`.ci/run` -> `make test` -> scripts/build.sh),
# in Release. Runtime stage: debian:12-slim plus only the packages whose shared libraries the built
# binary loads (scripts/runtime-packages.sh maps its ldd output to Debian packages).

FROM debian:12 AS build
WORKDIR /src
# Dependencies first, so editing sources does not reinstall them.
COPY scripts/setup-deps.sh scripts/setup-deps.sh
RUN scripts/setup-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
# The image needs no test executables (their libraries are not installed by --build-only):
# seed the build dir's cache with BUILD_TESTING=OFF, then run the one build script.
RUN cmake -S . -B build -G Ninja -DBUILD_TESTING=OFF >/dev/null \
 && scripts/build.sh Release build \
 && scripts/runtime-packages.sh build/mlnetpol > build/runtime-packages.txt \
 && cat build/runtime-packages.txt

FROM debian:12-slim
COPY --from=build /src/build/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
 && xargs --arg-file=/tmp/runtime-packages.txt apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build /src/build/mlnetpol /usr/local/bin/mlnetpol
# Fail the build, not the pod, if a library is still missing.
RUN ! ldd /usr/local/bin/mlnetpol | grep 'not found' && mlnetpol --help >/dev/null
# The distroless "nonroot" UID: matches runAsUser in manifests/base/deployment.yaml.
USER 65532:65532
# 9443: HTTPS admission webhook; 8080: plain HTTP /healthz, /readyz, /metrics.
EXPOSE 9443 8080
ENTRYPOINT ["mlnetpol", "serve"]
