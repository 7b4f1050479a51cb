/**
 * Serves an API's OpenAPI document (/openapi.json), Swagger UI over it (/docs, assets from the
 * swagger-ui-dist package: no CDN) and the problem type pages (/problems/:code).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { Router } from 'express';
import type { RouteSpec } from './api-spec.ts';
import { AppError, type ErrorCode } from './errors.ts';
import { buildOpenApiDocument, type ApiInfo } from './openapi.ts';
import { opsRoutes, problemCodeParams } from './ops-routes.ts';
import { problemTypeDoc, problemTypeHtml } from './problem-pages.ts';

const swaggerUiDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

export interface ApiDescription {
  info: ApiInfo;
  routes: readonly RouteSpec[];
  /** Base of problem type URIs (problem-base.ts). */
  problemBase: string;
}

/** The whole document of an API: its routes and the routes every service app adds. */
export const apiDocument = (api: ApiDescription): Record<string, unknown> =>
  buildOpenApiDocument(api.info, [...api.routes, ...opsRoutes], api.problemBase);

const docsPage = (title: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' });</script>
</body></html>
`;

export function apiDocsRouter(api: ApiDescription): Router {
  const document = JSON.stringify(apiDocument(api));
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').setHeader('Cache-Control', 'public, max-age=60').send(document);
  });
  router.get('/docs', (_req, res) => {
    res.type('text/html').send(docsPage(api.info.title));
  });
  router.use('/docs/assets', express.static(swaggerUiDir, { index: false, maxAge: '1h' }));
  router.get('/problems/:code', (req, res) => {
    const parsed = problemCodeParams.safeParse(req.params);
    if (!parsed.success) throw new AppError('not_found', `No problem type ${req.params.code}`);
    const doc = problemTypeDoc(parsed.data.code as ErrorCode, api.problemBase);
    res.setHeader('Vary', 'Accept');
    if (req.accepts(['text/html', 'application/json']) === 'application/json') res.json(doc);
    else res.type('text/html').send(problemTypeHtml(doc));
  });
  return router;
}
