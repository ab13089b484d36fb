import { Controller, Get, Header } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const PAGE = readFileSync(resolve(__dirname, '../../public/demo.html'), 'utf8');
const INBOX_MODULE = readFileSync(resolve(__dirname, '../../../../libs/client/browser/notification-inbox.js'), 'utf8');

/** A small inbox page for trying the platform in a browser; the token comes from the URL fragment, never the server. */
@Controller('demo')
export class DemoController {
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:")
  page(): string {
    return PAGE;
  }

  @Get('notification-inbox.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  inboxModule(): string {
    return INBOX_MODULE;
  }
}
