# hookcast on Node 24. The build stage installs the locked dependencies and compiles the TypeScript (npm run build);
# the image gets only dist/node, the production dependencies, the hookcast command and the example config, owned by
# root and run as the unprivileged user node (uid 1000). README: "Run it in a container".
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The stand-in for re2 that package.json's overrides name (see its package.json).
COPY test/support/no-re2 test/support/no-re2
# --ignore-scripts: `prepare` would build before the sources are here (they come next, so that a change to them
# reuses this layer); no dependency needs its install script (sharp loads its prebuilt @img binary).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin/build.mjs bin/
COPY adapters adapters
COPY src src
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist/node dist/node
COPY package.json config.example.yaml ./
COPY bin/hookcast.js bin/
# The example config writes ./data and ./spool, relative to /app: they are the volumes, as is a config of your own
# mounted at /app/config.yaml with relative folders. Named volumes start out owned by node, as these are.
RUN mkdir /data /spool && chown node:node /data /spool && ln -s /data data && ln -s /spool spool \
 && ln -s /app/bin/hookcast.js /usr/local/bin/hookcast
VOLUME ["/data", "/spool"]
USER node
# HOST: a container is reached from outside, so listen on every address. With the published development secret
# the gateway then refuses to start and says why, rather than listen on loopback where nobody outside reaches it:
# pass MILLICAST_WEBHOOK_SECRET.
ENV HOST=0.0.0.0
EXPOSE 8080
# node:24-slim has no curl. /readyz is 503 when the spool cannot be written or the gateway is shutting down.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["node", "-e", \
  "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), \
  () => process.exit(1))"]
# Node as PID 1 gets SIGTERM (docker stop) because hookcast handles it: it stops accepting, lets deliveries under
# way finish for server.shutdownGrace (10 s), then exits 0; what is left stays in the spool for the next start.
# Give `docker stop` more than that grace (docker stop -t 20, compose's stop_grace_period), or it kills at 10 s.
STOPSIGNAL SIGTERM
CMD ["node", "dist/node/adapters/node.js"]
