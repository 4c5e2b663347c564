import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import { dashboard_html } from './dashboard.page.js';

/** GET /dashboard?token=<stream token>: the page; the token is checked by the stream it opens, not here. */
@Controller('dashboard')
export class DashboardController {
  @Get()
  @ApiExcludeEndpoint()
  @Header('content-type', 'text/html; charset=utf-8')
  // The token rides in the page's URL: keep it out of caches and Referer headers.
  @Header('cache-control', 'no-store')
  @Header('referrer-policy', 'no-referrer')
  @Header('content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'")
  page(): string {
    return dashboard_html;
  }
}
