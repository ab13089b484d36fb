# syntax=docker/dockerfile:1
#
# One image for every app of the platform. The apps run from their TypeScript sources, exactly as
# `npm start` runs them: `node [node flags] -r @swc-node/register apps/<app>/src/main.ts`, with the
# node flags of tools/dev/platform-apps.ts (the query API's garbage-collector flags).
#
#   docker build -t notify-platform .                           # default app: message-center
#   docker build -t notify-gateway --build-arg APP=realtime-gateway .
#   docker run -e APP=scheduler notify-platform                 # the app is read from APP at start
#
# docker-compose.yml builds this image once and picks each service's app with `command`.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
# base: Node with npm 11. package.json's `allowScripts` (which install scripts may run) is only
# honoured by npm 11; the node:20 image ships npm 10, which would run every install script.
FROM ${NODE_IMAGE} AS base
ARG NPM_VERSION=11.19.1
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
RUN if [ "$(npm --version)" != "${NPM_VERSION}" ]; then \
      npm install --global "npm@${NPM_VERSION}" && npm cache clean --force; \
    fi \
 && npm --version
WORKDIR /app

# ---------------------------------------------------------------------------------------------
# manifests: only the package.json files (root and every workspace) and the lockfile, at their
# paths, and patches/ (fixes to dependencies that npm ci applies after installing them: patch-package,
# package.json's postinstall). The dependency layer below then stays cached until one of them changes.
FROM base AS manifests
COPY . /src
RUN mkdir /manifests \
 && cd /src \
 && find . -name node_modules -prune -o \( -name package.json -o -name package-lock.json \) -type f -print \
      | xargs -r cp --parents --target-directory=/manifests \
 && cp -r patches /manifests/patches

# ---------------------------------------------------------------------------------------------
# deps: the full install (@swc-node/register, @swc/core and typescript, which compile the TypeScript
# at start-up, are dependencies). npm ci also links the workspaces: node_modules/@notify/* -> libs/*, apps/*.
FROM base AS deps
COPY --from=manifests /manifests/ ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --no-audit --no-fund

# ---------------------------------------------------------------------------------------------
# runtime
FROM ${NODE_IMAGE} AS runtime
ARG APP=message-center
ENV NODE_ENV=production \
    APP=${APP} \
    KAFKAJS_NO_PARTITIONER_WARNING=1
WORKDIR /app
# node_modules (with the workspace links) and the workspace manifests from the install ...
COPY --from=deps /app ./
# ... then the sources (.dockerignore keeps node_modules, caches and build output out; the per-app
# env files of docker-compose.yml, config/env/*.env, hold secrets and stay out too).
COPY . .
# Sources and dependencies stay owned by root and read-only for the app; it runs as `node` (uid 1000).
USER node
# realtime gateway, query API (HTTP, gRPC), message center, channel worker, scheduler
EXPOSE 3000 3001 50051 3002 3003 3004
# The node flags are those of commandOf() in tools/dev/platform-apps.ts (docker-compose.spec.ts checks).
CMD ["sh", "-c", "case \"$APP\" in query-api) flags='--min-semi-space-size=16 --max-semi-space-size=64 --heap-growing-percent=100' ;; *) flags='' ;; esac; exec node $flags -r @swc-node/register \"apps/${APP}/src/main.ts\""]
