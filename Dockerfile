# The Caretaker worker (and CLI) image used by docker-compose.yml.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
# Prebuilt workflow bundle: the worker loads it instead of bundling at startup.
RUN npm run build:bundle -- dist/workflow-bundle.js
ENV CARETAKER_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
USER node
# worker/command.ts: a small young generation and a heap cap keep a worker's memory flat; set
# NODE_OPTIONS (with both flags) to change them.
ENV NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=384"
ENV MALLOC_ARENA_MAX=2
CMD ["node", "--import", "tsx", "worker/main.ts"]
