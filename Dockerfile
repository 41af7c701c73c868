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
CMD ["node", "--max-semi-space-size=4", "--max-old-space-size=384", "--import", "tsx", "worker/main.ts"]
