import { readFormBody } from '../channels/body';
import { valueOrRefuse } from '../channels/refuse';

/** A form body's fields, or the 400 for an empty one thrown as the answer (the dashboard login reads one). */
export const parseFormBody = (body: unknown): URLSearchParams => valueOrRefuse(readFormBody(body));
