/** The one room of a user: assigned by the server from the verified token, never chosen by a client. */
export function userRoom(userId: string): string {
  return `user:${userId}`;
}
