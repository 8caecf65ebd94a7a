/** Where the admin API's routes are, on the admin origin and on `manager.sock`. */
export const apiPrefix = '/manager/api/v1';
